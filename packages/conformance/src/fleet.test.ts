// A fleet of real processes sharing tokens through @authrail/redis, against the sandbox
// and real redis-server processes (a standalone server and a three-master cluster) that
// the test starts. Each worker (fleet/worker.ts) is the MSK APIM preset over fetch, on
// ioredis or on node-redis: every test runs with each.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import {
  spawnTs,
  startRedis,
  startRedisCluster,
  type RedisCluster,
  type RedisServer,
} from '@authrail/test-utils';
import type { WorkerConfig, WorkerReply } from './fleet/worker.js';

const WORKER = fileURLToPath(new URL('./fleet/worker.ts', import.meta.url));

interface Worker {
  child: ChildProcess;
  /** Sends a command; resolves with the worker's reply. */
  send(command: string): Promise<WorkerReply>;
  /** Resolves when the process has ended, with whether it ended by itself. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every worker started, so none outlives a failed test. */
const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startWorker(config: WorkerConfig): Promise<Worker> {
  const child = spawnTs(WORKER, {
    env: { FLEET_WORKER: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  started.push(child);
  const replies: ((line: string) => void)[] = [];
  const ready = new Promise<void>((resolve) => replies.push(() => resolve()));
  createInterface({ input: child.stdout! }).on('line', (line) => replies.shift()?.(line));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const worker: Worker = {
    child,
    ended,
    send(command) {
      return new Promise((resolve) => {
        replies.push((line) => resolve(JSON.parse(line) as WorkerReply));
        child.stdin!.write(`${command}\n`);
      });
    },
  };
  return ready.then(() => worker);
}

async function quit(workers: Worker[]): Promise<void> {
  for (const w of workers)
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.stdin!.write('quit\n');
  const ends = await Promise.all(workers.map((w) => w.ended));
  // Each ended by itself: the store's own connection closed, nothing left holding it.
  expect(ends.filter((e) => e.signal === null).every((e) => e.code === 0)).toBe(true);
}

let sb: Sandbox;
let redis: RedisServer;
let cluster: RedisCluster;
let run = 0;

beforeAll(async () => {
  [sb, redis, cluster] = await Promise.all([
    startSandbox({ tokenLifetimeSeconds: { mskApim: 3600 } }),
    startRedis(),
    startRedisCluster(),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([sb?.close(), redis?.stop(), cluster?.stop()]);
});

function baseConfig(overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    redis: { port: redis.port },
    store: 'redis',
    baseUrl: sb.urls.mskApim.baseUrl,
    fhirUrl: sb.urls.mskApim.fhirBaseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    prefix: `fleet${(run += 1)}`,
    leaseMs: 2_000,
    commandTimeoutMs: 500,
    ...overrides,
  };
}

/**
 * Redis healthy, token requests counted exactly. A process that gives up on a Redis call
 * fetches its own token (by design), so the deadline must be one no scheduler misses: on a
 * loaded 2-core machine, 16 processes starting their first requests at once stall their
 * event loops past 500 ms, a first `get` times out and that process asks for a token of its
 * own. Likewise the lease: the single token request holds only while the holder's renewals
 * (every leaseMs / 3) land in time, so it is the store's default here, not 2 s. The tests
 * where Redis fails keep 500 ms: they are about that deadline.
 */
const HEALTHY = { commandTimeoutMs: 10_000, leaseMs: 10_000 } as const;

const tokenRequests = () => sb.tokenRequests({ service: 'mskApim' }).length;

describe.each(['ioredis', 'node-redis'] as const)('on %s', (library) => {
  const config = (overrides: Partial<WorkerConfig> = {}) => baseConfig({ library, ...overrides });

  describe.each([
    ['standalone Redis', () => ({})],
    ['Redis Cluster (3 masters)', () => ({ redis: { cluster: cluster.ports } })],
  ] as const)('a fleet on %s', (_name, where) => {
    test('16 processes on a cold cache, all at once: exactly 1 token request; each request succeeds', async () => {
      const shared = config({ ...HEALTHY, ...where() });
      const workers = await Promise.all(Array.from({ length: 16 }, () => startWorker(shared)));
      const before = tokenRequests();
      const replies = await Promise.all(workers.map((w) => w.send('request 3')));
      expect(replies.flatMap((r) => r.events)).toEqual([]); // no process gave up on Redis
      expect(tokenRequests() - before).toBe(1);
      expect(replies.map((r) => [r.ok, r.failed])).toEqual(replies.map(() => [3, []]));
      await quit(workers);
    }, 90_000); // only against a hang: 16 processes take ~20 s to start on a loaded 2-core machine

    test('a revoked token: 1 token request for the whole fleet, each rejected request replayed once', async () => {
      const shared = config({ ...HEALTHY, ...where() });
      const workers = await Promise.all(Array.from({ length: 8 }, () => startWorker(shared)));
      await Promise.all(workers.map((w) => w.send('request 1')));
      const before = tokenRequests();
      const apiBefore = sb.requests.filter((r) => r.route === 'msk-fhir').length;
      // Revoked at the server: a request with the old token gets 401, one with the new 200,
      // whatever order the processes' requests arrive in (a queued fault would not care which
      // token a request carried, and a fast process's replay could take a slow one's 401).
      expect(sb.revokeTokens({ service: 'mskApim' })).toBeGreaterThanOrEqual(1);
      const replies = await Promise.all(workers.map((w) => w.send('request 1')));
      expect(replies.map((r) => [r.ok, r.failed])).toEqual(replies.map(() => [1, []]));
      expect(replies.flatMap((r) => r.events)).toEqual([]); // no process gave up on Redis
      expect(tokenRequests() - before).toBe(1);
      const api = sb.requests.filter((r) => r.route === 'msk-fhir').slice(apiBefore);
      const rejected = api.filter((r) => r.status === 401).length;
      // Each process's request succeeded once; each one rejected was replayed once, no more.
      expect(api.filter((r) => r.status === 200)).toHaveLength(8);
      expect(rejected).toBeGreaterThanOrEqual(1);
      expect(api).toHaveLength(8 + rejected);
      await quit(workers);
    }, 60_000);
  });

  describe('a fleet under steady load', () => {
    test('8 processes, 2 s tokens, 20 s of load (10 lifetimes): as many token requests as one process would make', async () => {
      const short = await startSandbox({ tokenLifetimeSeconds: { mskApim: 2 } });
      try {
        const shared = {
          ...config(),
          baseUrl: short.urls.mskApim.baseUrl,
          fhirUrl: short.urls.mskApim.fhirBaseUrl,
        };
        const workers = await Promise.all(Array.from({ length: 8 }, () => startWorker(shared)));
        const replies = await Promise.all(workers.map((w) => w.send('steady 20000 50')));
        const requests = short.tokenRequests({ service: 'mskApim' }).length;
        const ok = replies.reduce((n, r) => n + r.ok, 0);
        console.info(`fleet steady load: ${ok} requests, ${requests} token requests in 20 s of 2 s tokens`);
        expect(replies.flatMap((r) => r.failed)).toEqual([]);
        expect(replies.every((r) => r.ok > 50)).toBe(true);
        // One process refreshes each token at half its life: 20 in 20 s. Eight processes on
        // their own stores would make 160.
        expect(requests).toBeGreaterThanOrEqual(10);
        expect(requests).toBeLessThanOrEqual(22);
        await quit(workers);
      } finally {
        await short.close();
      }
    }, 90_000);
  });

  describe('a fleet when things fail', () => {
    test('the cluster master holding the token killed: requests still succeed, the event is seen', async () => {
      const own = await startRedisCluster();
      try {
        const shared = config({ redis: { cluster: own.ports } });
        const workers = await Promise.all(Array.from({ length: 3 }, () => startWorker(shared)));
        await Promise.all(workers.map((w) => w.send('request 1')));
        const before = tokenRequests();
        // The master holding this grant's keys (prefix:{storeKey}:…, all in one slot).
        const found: string[] = [];
        for (const port of own.ports) {
          const node = new Redis({ host: '127.0.0.1', port });
          found.push(...(await node.keys(`${shared.prefix}:*`)));
          node.disconnect();
        }
        expect(found.some((k) => k.endsWith(':token'))).toBe(true);
        await own.masterOf(found[0]!).stop(true);
        // Every process needs a new token. (Revoked, not a counted 401 fault: a process that
        // starts late would meet the fault on its replay.)
        sb.revokeTokens({ service: 'mskApim' });
        const replies = await Promise.all(workers.map((w) => w.send('request 2')));
        expect(replies.map((r) => [r.ok, r.failed])).toEqual(replies.map(() => [2, []]));
        expect(replies.every((r) => r.events.includes('degraded'))).toBe(true);
        expect(tokenRequests() - before).toBe(3); // each process on its own, once
        for (const w of workers) w.child.kill();
      } finally {
        await own.stop();
      }
    }, 60_000);

    test('the lock holder killed with SIGKILL mid-fetch: another process takes over within the lease', async () => {
      const shared = config({ leaseMs: 1_000 });
      const [holder, ...others] = await Promise.all(Array.from({ length: 5 }, () => startWorker(shared)));
      const before = tokenRequests();
      sb.inject('msk-token', { type: 'delay', ms: 5_000 }, { times: 1 });
      void holder!.send('request 1');
      for (let i = 0; tokenRequests() === before; i += 1) {
        if (i > 200) throw new Error('the holder never asked for a token');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      holder!.child.kill('SIGKILL');
      const started = Date.now();
      const replies = await Promise.all(others.map((w) => w.send('request 2')));
      expect(replies.map((r) => [r.ok, r.failed])).toEqual(replies.map(() => [2, []]));
      expect(Date.now() - started).toBeLessThan(4_000); // within the lease (1 s) and a token request
      expect(tokenRequests() - before).toBe(2); // the dead holder's, and one for everyone else
      await Promise.all(others.map((w) => w.send('request 2')));
      expect(tokenRequests() - before).toBe(2); // and none after
      await quit(others);
    }, 60_000);

    test('Redis stopped mid-run: every request still succeeds, the event is seen; back: sharing resumes', async () => {
      const shared = config();
      const workers = await Promise.all(Array.from({ length: 4 }, () => startWorker(shared)));
      await Promise.all(workers.map((w) => w.send('request 1')));
      const before = tokenRequests();
      expect(before).toBeGreaterThan(0);
      await redis.stop(true);
      sb.revokeTokens({ service: 'mskApim' }); // every process needs a new token
      const during = await Promise.all(workers.map((w) => w.send('request 2')));
      expect(during.map((r) => [r.ok, r.failed])).toEqual(during.map(() => [2, []]));
      expect(during.every((r) => r.events.includes('degraded'))).toBe(true);
      expect(tokenRequests() - before).toBe(4); // each process on its own

      await redis.start();
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // clients reconnect
      const mid = tokenRequests();
      sb.revokeTokens({ service: 'mskApim' });
      const after = await Promise.all(workers.map((w) => w.send('request 2')));
      expect(after.map((r) => [r.ok, r.failed])).toEqual(after.map(() => [2, []]));
      expect(after.every((r) => r.events.includes('restored'))).toBe(true);
      expect(tokenRequests() - mid).toBeLessThanOrEqual(2); // shared again (a process still reconnecting may fetch its own)
      await quit(workers);
    }, 60_000);
  });
});
