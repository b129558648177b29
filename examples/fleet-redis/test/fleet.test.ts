import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { runFleet } from '../src/fleet.js';
import { startRedisServer } from '../src/redis-server.js';

let sandbox: Sandbox;
let redis: { url: string; stop(): void };
beforeAll(async () => {
  [sandbox, redis] = await Promise.all([startSandbox(), startRedisServer()]);
}, 30_000);
afterAll(async () => {
  redis.stop();
  await sandbox.close();
});

test('4 workers: 4 token requests on their own, 1 sharing through Redis', async () => {
  const msk = {
    baseUrl: sandbox.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
  };
  const count = () => sandbox.tokenRequests({ service: 'mskApim' }).length;
  expect(await runFleet({ workers: 4, requests: 3, msk })).toEqual({ ok: 12 });
  expect(count()).toBe(4);
  expect(await runFleet({ workers: 4, requests: 3, msk, redisUrl: redis.url })).toEqual({ ok: 12 });
  expect(count()).toBe(5);
}, 60_000);
