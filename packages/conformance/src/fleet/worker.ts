// One process of a fleet: the MSK APIM preset with the Redis token store, calling the
// sandbox's Blaze FHIR API through @authrail/fetch. The parent drives it over stdin, a
// command per line, and reads one JSON line per command:
//   request N            N requests, one after another
//   steady MS EVERY      a request every EVERY ms for MS ms
//   quit                 close the store and the client, and end by itself
import { createInterface } from 'node:readline';
import { createAuthFetch } from '@authrail/fetch';
import { mskApim } from '@authrail/msk-apim';
import { createRedisTokenStore, type RedisTokenStoreOptions } from '@authrail/redis';

export interface WorkerConfig {
  /** A standalone Redis port, or the ports of a cluster's masters. */
  redis: { port: number } | { cluster: number[] };
  /** The Redis client library the process holds. Default `ioredis`. */
  library?: 'ioredis' | 'node-redis';
  /** `memory` compares with the per-process default store. */
  store: 'redis' | 'memory';
  baseUrl: string;
  fhirUrl: string;
  clientId: string;
  clientSecret: string;
  prefix: string;
  leaseMs: number;
  /** The store's deadline for each Redis call, past which the process fetches its own token. */
  commandTimeoutMs: number;
}

export interface WorkerReply {
  ok: number;
  /** Requests that ended otherwise: HTTP status or error code. */
  failed: string[];
  /** The store's degraded/restored events so far. */
  events: string[];
}

const config = JSON.parse(process.env.FLEET_WORKER ?? '{}') as WorkerConfig;

/**
 * The process's Redis client, connected (or after 30 s without Redis, as it is), and how to
 * end it. Only the library in use is loaded: loading both took 0.69 s against 0.30 s for
 * ioredis alone, and a test starts 16 processes at once.
 */
async function connect(): Promise<{ client: RedisTokenStoreOptions['client']; end(): void }> {
  const nodes = 'cluster' in config.redis ? config.redis.cluster : undefined;
  const port = 'port' in config.redis ? config.redis.port : 0;
  if (config.library === 'node-redis') {
    const { createClient, createCluster } = await import('redis');
    const client = nodes
      ? createCluster({ rootNodes: nodes.map((p) => ({ url: `redis://127.0.0.1:${p}` })) })
      : createClient({ socket: { host: '127.0.0.1', port } });
    client.on('error', () => undefined); // the store says what matters through its events
    await within30s(client.connect());
    return { client, end: () => void client.destroy() };
  }
  const { Cluster, Redis } = await import('ioredis');
  const client = nodes
    ? new Cluster(
        nodes.map((p) => ({ host: '127.0.0.1', port: p })),
        {
          redisOptions: { maxRetriesPerRequest: 1 },
          clusterRetryStrategy: (times) => Math.min(100 * times, 1_000),
        },
      )
    : new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  if (client.status !== 'ready') await within30s(new Promise((resolve) => client.once('ready', resolve)));
  return { client, end: () => client.disconnect() };
}

// Ready once connected (a cluster client has also learned the slot map): "all at once"
// starts from running processes, not from connections still being made, whose first
// command would otherwise wait out its deadline on a loaded machine. Without Redis
// after 30 s it says ready anyway, and the test says what failed.
function within30s(connected: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    connected.catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 30_000).unref()),
  ]);
}

const { client, end } = await connect();
const events: string[] = [];
const store =
  config.store === 'redis'
    ? createRedisTokenStore({
        client,
        prefix: config.prefix,
        leaseMs: config.leaseMs,
        commandTimeoutMs: config.commandTimeoutMs,
        on: { degraded: () => events.push('degraded'), restored: () => events.push('restored') },
      })
    : undefined;
const api = createAuthFetch(
  mskApim({
    baseUrl: config.baseUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    researchStudy: '17-001',
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, attemptTimeoutMs: 10_000 },
    ...(store ? { store } : {}),
  }),
);

async function one(reply: WorkerReply): Promise<void> {
  try {
    const response = await api(`${config.fhirUrl}/Patient`);
    await response.text();
    if (response.status === 200) reply.ok += 1;
    else reply.failed.push(`HTTP ${response.status}`);
  } catch (error) {
    reply.failed.push((error as { code?: string }).code ?? String(error));
  }
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  const [command, a = '0', b = '0'] = line.trim().split(' ');
  const reply: WorkerReply = { ok: 0, failed: [], events };
  if (command === 'request') {
    for (let i = 0; i < Number(a); i += 1) await one(reply);
  } else if (command === 'steady') {
    const until = Date.now() + Number(a);
    while (Date.now() < until) {
      await one(reply);
      await new Promise((resolve) => setTimeout(resolve, Number(b)));
    }
  } else if (command === 'quit') {
    break;
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
// Told to quit, or the parent is gone (stdin ended): close what holds the process.
lines.close();
await store?.close();
end();
