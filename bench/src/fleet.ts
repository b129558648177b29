// Workload 6, fleet: 16 worker processes under steady load with 2 s tokens, sharing
// tokens through @authrail/redis vs each with its own memory store; then, in this
// process, the per-request cost of the Redis store's fast path against the memory store
// (interleaved rounds) and the Redis commands a cached request sends.
//
//   pnpm bench:fleet            full run (16 workers × 60 s, twice; about 3 minutes)
//   pnpm bench:fleet --quick    a smoke run: checks the harness, not the numbers
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  createAuthStrategy,
  createMemoryTokenStore,
  createToken,
  type AuthResponse,
  type TokenSource,
  type TokenStore,
} from '@authrail/core';
import { createRedisTokenStore } from '@authrail/redis';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { spawnTs, startRedis } from '@authrail/test-utils';
import { compare, formatRatio, report, type Measured } from './harness.js';

// The conformance suite's fleet worker: the MSK APIM preset over fetch, driven over stdin.
const WORKER = fileURLToPath(new URL('../../packages/conformance/src/fleet/worker.ts', import.meta.url));

export interface FleetOptions {
  workers: number;
  seconds: number;
  /** Each worker's pause between requests, ms. */
  everyMs: number;
  lifetimeSeconds: number;
  rounds: number;
  perRound: number;
}

export const FULL: FleetOptions = {
  workers: 16,
  seconds: 60,
  everyMs: 20,
  lifetimeSeconds: 2,
  rounds: 40,
  perRound: 2_000,
};
export const QUICK: FleetOptions = {
  workers: 2,
  seconds: 2,
  everyMs: 50,
  lifetimeSeconds: 2,
  rounds: 2,
  perRound: 50,
};

interface FleetRun {
  store: 'redis' | 'memory';
  requests: number;
  failed: number;
  tokenRequests: number;
  /** Token requests per token lifetime, over the whole fleet. */
  perLifetime: number;
}

export interface FleetResult {
  options: FleetOptions;
  runs: FleetRun[];
  fastPath: Measured[];
  /** Redis commands per request with a cached token, in this process. */
  commandsPerCachedRequest: number;
}

async function runFleet(
  store: 'redis' | 'memory',
  options: FleetOptions,
  redisPort: number,
): Promise<FleetRun> {
  const sandbox = await startSandbox({ tokenLifetimeSeconds: { mskApim: options.lifetimeSeconds } });
  try {
    const config = {
      redis: { port: redisPort },
      store,
      baseUrl: sandbox.urls.mskApim.baseUrl,
      fhirUrl: sandbox.urls.mskApim.fhirBaseUrl,
      ...demoClients.mskApim,
      prefix: `bench-${store}-${Date.now()}`,
      leaseMs: 2_000,
    };
    const workers = await Promise.all(
      Array.from({ length: options.workers }, async () => {
        const child = spawnTs(WORKER, {
          env: { FLEET_WORKER: JSON.stringify(config) },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: child.stdout! });
        const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
        await next(); // ready
        return { child, next };
      }),
    );
    const replies = await Promise.all(
      workers.map(async (w) => {
        const reply = w.next();
        w.child.stdin!.write(`steady ${options.seconds * 1000} ${options.everyMs}\n`);
        return JSON.parse(await reply) as { ok: number; failed: string[] };
      }),
    );
    for (const w of workers) w.child.stdin!.write('quit\n');
    const tokenRequests = sandbox.tokenRequests({ service: 'mskApim' }).length;
    return {
      store,
      requests: replies.reduce((n, r) => n + r.ok + r.failed.length, 0),
      failed: replies.reduce((n, r) => n + r.failed.length, 0),
      tokenRequests,
      perLifetime: tokenRequests / (options.seconds / options.lifetimeSeconds),
    };
  } finally {
    await sandbox.close();
  }
}

/** The Redis store's fast path vs the memory store: core's loop with a transport that answers at once. */
async function fastPath(
  options: FleetOptions,
  redisPort: number,
): Promise<Omit<FleetResult, 'options' | 'runs'>> {
  const client = new Redis({ host: '127.0.0.1', port: redisPort });
  let commands = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<typeof send>) => {
    commands += 1;
    return send(...args);
  }) as typeof client.sendCommand;
  const redisStore = createRedisTokenStore({ client, prefix: `bench-fast-${Date.now()}` });
  const source: TokenSource = {
    identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'bench' },
    fetchToken: () => Promise.resolve(createToken({ accessToken: 'bench-fleet-token', expiresIn: 86_400 })),
  };
  const answered: AuthResponse = { status: 200, headers: new Headers(), discard() {} };
  const through = (store: TokenStore) => {
    const strategy = createAuthStrategy({ source, origins: ['https://api.example.org'], store });
    return () =>
      strategy.send(
        { method: 'GET', url: new URL('https://api.example.org/fhir/Patient'), headers: new Headers() },
        () => Promise.resolve(answered),
      );
  };
  const memory = through(createMemoryTokenStore());
  const redis = through(redisStore);
  await redis(); // the token is fetched and stored; from here every request is cached
  await new Promise((resolve) => setTimeout(resolve, 100));
  commands = 0;
  const calls = 1_000;
  for (let i = 0; i < calls; i += 1) await redis();
  const commandsPerCachedRequest = commands / calls;
  const measured = await compare(
    [
      { name: 'memory store', send: memory },
      { name: 'Redis store (fast path)', send: redis },
    ],
    { rounds: options.rounds, perRound: options.perRound, concurrency: 1, warmup: options.perRound },
  );
  await redisStore.close();
  client.disconnect();
  return { fastPath: measured, commandsPerCachedRequest };
}

export async function runFleetBench(options: FleetOptions): Promise<FleetResult> {
  const redis = await startRedis();
  try {
    const runs = [
      await runFleet('memory', options, redis.port),
      await runFleet('redis', options, redis.port),
    ];
    return { options, runs, ...(await fastPath(options, redis.port)) };
  } finally {
    await redis.stop();
  }
}

export function toMarkdown(result: FleetResult): string {
  const { options: o } = result;
  const lines = [
    `# Fleet (${process.version})`,
    '',
    `${o.workers} worker processes, a request every ${o.everyMs} ms each, for ${o.seconds} s, with ${o.lifetimeSeconds} s tokens (refreshed at half their life, as one process does).`,
    '',
    '| store | requests | failed | token requests | per token lifetime | target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of result.runs)
    lines.push(
      `| ${r.store} | ${r.requests} | ${r.failed} | ${r.tokenRequests} | ${r.perLifetime.toFixed(1)} | ${r.store === 'redis' ? 'what one process makes (2 at half-life refresh)' : `${o.workers}× one process`} |`,
    );
  const [, fast] = result.fastPath;
  lines.push(
    '',
    '## Fast path (this process, core loop, transport answers at once)',
    '',
    '| variant | CPU µs/req | ratio to memory store: median [95 % CI] (min–max) | target |',
    '| --- | ---: | --- | --- |',
    ...result.fastPath.map(
      (m) =>
        `| ${m.name} | ${m.median.cpuUs.toFixed(2)} | ${formatRatio(m.cpuRatio)} | ${m === fast ? '≤ 1.05' : '1'} |`,
    ),
    '',
    `Redis commands per request with a cached token: ${result.commandsPerCachedRequest} (target 0).`,
  );
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const result = await runFleetBench(quick ? QUICK : FULL);
  report('fleet', toMarkdown(result), result, quick);
}
