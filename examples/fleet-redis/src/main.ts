// A fleet of 8 workers calling MSK Blaze, twice: each process with its own tokens, then
// sharing them through Redis. Runs against the embedded sandbox and a local redis-server
// unless MSK_APIM_BASE_URL, MSK_CLIENT_ID, MSK_CLIENT_SECRET, MSK_RESEARCH_STUDY and
// REDIS_URL point at real ones.
import { demoClients, startSandbox } from '@authrail/sandbox';
import { runFleet } from './fleet.js';
import { startRedisServer } from './redis-server.js';

const env = process.env;
const real = env.MSK_APIM_BASE_URL && env.MSK_CLIENT_ID && env.MSK_CLIENT_SECRET && env.MSK_RESEARCH_STUDY;
const sandbox = real ? undefined : await startSandbox();
const redis = env.REDIS_URL ? undefined : await startRedisServer();
const redisUrl = env.REDIS_URL ?? redis!.url;
const msk = real
  ? {
      baseUrl: env.MSK_APIM_BASE_URL!,
      clientId: env.MSK_CLIENT_ID!,
      clientSecret: env.MSK_CLIENT_SECRET!,
      researchStudy: env.MSK_RESEARCH_STUDY!,
    }
  : {
      baseUrl: sandbox!.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: '17-001',
    };
const workers = Number(env.WORKERS ?? 8);
const tokenRequests = () => sandbox?.tokenRequests({ service: 'mskApim' }).length;

try {
  for (const [label, url] of [
    ['each process on its own (memory store)', undefined],
    ['sharing through Redis', redisUrl],
  ] as const) {
    const before = tokenRequests() ?? 0;
    const { ok } = await runFleet({ workers, requests: 5, msk, ...(url ? { redisUrl: url } : {}) });
    const asked = tokenRequests();
    console.log(
      `${workers} workers, ${label}: ${ok} requests succeeded` +
        (asked === undefined ? '' : `, ${asked - before} token request(s)`),
    );
  }
} finally {
  redis?.stop();
  await sandbox?.close();
}
