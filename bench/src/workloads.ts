// Workloads 2–5 of issue 11 (cold start, expiry under steady load, revocation storm,
// memory), each for authrail's adapters and the peers, against the bench server's real
// token endpoint (50 ms latency) and an API that checks every token. What is counted is
// counted by the server (token requests, 401s) or at the caller (failures, latency), never
// inside the library under test.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, setGlobalDispatcher } from 'undici';
import { startServer } from './harness.js';
import { CONTENDERS, type BenchClient, type BenchEnv, type Contender } from './contenders.js';

export interface WorkloadOptions {
  /** Workload 2: concurrent requests on an empty cache. */
  coldRequests: number;
  /** Workload 3: token lifetime, load duration and concurrent callers. */
  expiry: { lifetimeS: number; seconds: number; concurrency: number };
  /** Workload 4: requests in flight when the token is revoked. */
  stormRequests: number;
  /** Workload 5: requests through each authrail adapter. */
  memoryRequests: number;
  /** Token endpoint latency, ms. */
  tokenLatencyMs: number;
  /** Connections per client. */
  connections: number;
  /** Only these contenders (by name); all when absent. */
  only?: string[];
}

export const FULL: WorkloadOptions = {
  coldRequests: 10_000,
  expiry: { lifetimeS: 2, seconds: 30, concurrency: 16 },
  stormRequests: 1_000,
  memoryRequests: 100_000,
  tokenLatencyMs: 50,
  connections: 1_024,
};

export const QUICK: WorkloadOptions = {
  coldRequests: 50,
  expiry: { lifetimeS: 1, seconds: 2, concurrency: 4 },
  stormRequests: 20,
  memoryRequests: 200,
  tokenLatencyMs: 20,
  connections: 64,
};

interface ServerStats {
  tokenRequests: number;
  apiRequests: number;
  unauthorized: number;
  withoutToken: number;
  tokenTimes: number[];
}

interface ColdResult {
  contender: string;
  tokenRequests: number;
  failures: number;
  /** Time to the last response, empty cache vs the same client again with its token cached. */
  coldMs: number;
  warmMs: number;
}

interface ExpiryResult {
  contender: string;
  requests: number;
  tokenRequests: number;
  /** Token requests over the number of lifetimes the load lasted. */
  perLifetime: number;
  /** Requests in flight for the whole of a token request: they may have waited on it (or on a GC pause). */
  waited: number;
  /** 401s the API sent (a replayed request counts its first answer). */
  unauthorized: number;
  failures: number;
  /** Latency (ms) near a token request vs elsewhere. */
  near: { p50: number; p99: number; count: number };
  elsewhere: { p50: number; p99: number; count: number };
  /** authrail's own events during the load: why each token was requested. */
  reasons?: Record<string, number>;
}

interface StormResult {
  contender: string;
  inFlight: number;
  tokenRequests: number;
  /** Requests the API saw beyond the storm's own: replays (and any retries). */
  replays: number;
  failures: number;
  durationMs: number;
}

interface MemoryResult {
  contender: string;
  requests: number;
  failures: number;
  /** Heap used after GC, after minus before, KB. */
  heapGrowthKb: number;
  timersBefore: number;
  timersAfter: number;
  listenersBefore: number;
  listenersAfter: number;
}

export interface WorkloadsResult {
  options: WorkloadOptions;
  contenders: { name: string; family: string; peer: boolean; how: string }[];
  cold: ColdResult[];
  expiry: ExpiryResult[];
  storm: StormResult[];
  memory: MemoryResult[];
}

class Control {
  constructor(private readonly origin: string) {}
  async set(control: Record<string, unknown>): Promise<void> {
    const response = await fetch(`${this.origin}/control`, { method: 'POST', body: JSON.stringify(control) });
    await response.arrayBuffer();
  }
  async stats(): Promise<ServerStats> {
    return (await (await fetch(`${this.origin}/stats`)).json()) as ServerStats;
  }
}

/** Sends `total` GETs with `concurrency` in flight; counts what did not end in a 200. */
async function drive(
  client: BenchClient,
  total: number,
  concurrency: number,
  onDone?: (startedAt: number, ms: number) => void,
): Promise<number> {
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        next += 1;
        const started = performance.now();
        try {
          if ((await client.get('/api/Patient')) !== 200) failures += 1;
        } catch {
          failures += 1;
        }
        onDone?.(started, performance.now() - started);
      }
    }),
  );
  return failures;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(values: number[]): { p50: number; p99: number; count: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length };
}

async function cold(
  contender: Contender,
  env: BenchEnv,
  control: Control,
  options: WorkloadOptions,
): Promise<ColdResult> {
  await control.set({ reset: true, lifetimeS: 3600, latencyMs: options.tokenLatencyMs });
  const client = contender.create(env);
  let started = performance.now();
  const failures = await drive(client, options.coldRequests, options.coldRequests);
  const coldMs = performance.now() - started;
  const { tokenRequests } = await control.stats();
  started = performance.now();
  const warmFailures = await drive(client, options.coldRequests, options.coldRequests);
  return {
    contender: contender.name,
    tokenRequests,
    failures: failures + warmFailures,
    coldMs,
    warmMs: performance.now() - started,
  };
}

async function expiry(
  contender: Contender,
  env: BenchEnv,
  control: Control,
  options: WorkloadOptions,
): Promise<ExpiryResult> {
  const { lifetimeS, seconds, concurrency } = options.expiry;
  await control.set({ reset: true, lifetimeS, latencyMs: options.tokenLatencyMs });
  const client = contender.create(env);
  await drive(client, 1, 1); // the first token: the load starts warm
  await control.set({ resetStats: true });
  if (client.reasons) for (const reason of Object.keys(client.reasons)) delete client.reasons[reason];
  const samples: [number, number][] = [];
  const origin = performance.timeOrigin;
  const endAt = performance.now() + seconds * 1000;
  let requests = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < endAt) {
        requests += 1;
        failures += await drive(client, 1, 1, (at, ms) => samples.push([origin + at, ms]));
      }
    }),
  );
  const stats = await control.stats();
  // "Near a token request": from 100 ms before it reached the server to 100 ms after its
  // answer. With 2 s tokens refreshed ahead, the seconds around successive expiries would
  // overlap; the window is narrowed to the refresh itself.
  const windows = stats.tokenTimes.map((t) => [t - 100, t + options.tokenLatencyMs + 100] as const);
  const near: number[] = [];
  const elsewhere: number[] = [];
  for (const [at, ms] of samples) {
    (windows.some(([from, to]) => at + ms >= from && at <= to) ? near : elsewhere).push(ms);
  }
  return {
    contender: contender.name,
    requests,
    tokenRequests: stats.tokenRequests,
    perLifetime: stats.tokenRequests / (seconds / lifetimeS),
    // Waited on a token request: in flight for the whole of one (from its arrival at the
    // token endpoint to its answer). A slow request that overlapped none (a GC pause, the
    // machine) did not wait on a token.
    waited: samples.filter(
      ([at, ms]) =>
        ms >= options.tokenLatencyMs &&
        stats.tokenTimes.some((t) => at <= t && t + options.tokenLatencyMs <= at + ms),
    ).length,
    unauthorized: stats.unauthorized,
    failures,
    near: summary(near),
    elsewhere: summary(elsewhere),
    ...(client.reasons ? { reasons: { ...client.reasons } } : {}),
  };
}

async function storm(
  contender: Contender,
  env: BenchEnv,
  control: Control,
  options: WorkloadOptions,
): Promise<StormResult> {
  await control.set({ reset: true, lifetimeS: 3600, latencyMs: options.tokenLatencyMs });
  const client = contender.create(env);
  await drive(client, 1, 1); // a cached token, which the storm revokes
  await control.set({ hold: options.stormRequests });
  const before = await control.stats();
  const started = performance.now();
  const failures = await drive(client, options.stormRequests, options.stormRequests);
  const durationMs = performance.now() - started;
  const after = await control.stats();
  return {
    contender: contender.name,
    inFlight: options.stormRequests,
    tokenRequests: after.tokenRequests - before.tokenRequests,
    replays: after.apiRequests - before.apiRequests - options.stormRequests,
    failures,
    durationMs,
  };
}

const gc = (): void => {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
};

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
}

function listeners(): number {
  return process.eventNames().reduce((n, name) => n + process.listenerCount(name), 0);
}

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

async function memory(
  contender: Contender,
  env: BenchEnv,
  control: Control,
  options: WorkloadOptions,
): Promise<MemoryResult> {
  await control.set({ reset: true, lifetimeS: 3600, latencyMs: options.tokenLatencyMs });
  const client = contender.create(env);
  await drive(client, 1_000, 64); // warm: the token, the pool's sockets, the JIT
  const heapBefore = await settledHeap();
  const timersBefore = timers();
  const listenersBefore = listeners();
  const failures = await drive(client, options.memoryRequests, 64);
  const heapAfter = await settledHeap();
  const timersAfter = timers();
  return {
    contender: contender.name,
    requests: options.memoryRequests,
    failures,
    heapGrowthKb: (heapAfter - heapBefore) / 1024,
    timersBefore,
    timersAfter,
    listenersBefore,
    listenersAfter: listeners(),
  };
}

export async function runWorkloads(
  options: WorkloadOptions,
  progress: (line: string) => void = () => {},
): Promise<WorkloadsResult> {
  const server = await startServer();
  // fetch's own pool, sized like the others (undici's default has no limit).
  setGlobalDispatcher(new Agent({ connections: options.connections }));
  try {
    const env: BenchEnv = {
      origin: server.url,
      tokenUrl: `${server.url}/token`,
      connections: options.connections,
    };
    const control = new Control(server.url);
    const chosen = CONTENDERS.filter((c) => !options.only || options.only.includes(c.name));
    const result: WorkloadsResult = {
      options,
      contenders: chosen.map(({ name, family, peer, how }) => ({ name, family, peer, how })),
      cold: [],
      expiry: [],
      storm: [],
      memory: [],
    };
    for (const contender of chosen) {
      progress(`cold start: ${contender.name}`);
      result.cold.push(await cold(contender, env, control, options));
    }
    for (const contender of chosen) {
      progress(`revocation storm: ${contender.name}`);
      result.storm.push(await storm(contender, env, control, options));
    }
    for (const contender of chosen) {
      progress(`expiry under load: ${contender.name}`);
      result.expiry.push(await expiry(contender, env, control, options));
    }
    for (const contender of chosen.filter((c) => !c.peer)) {
      progress(`memory: ${contender.name}`);
      result.memory.push(await memory(contender, env, control, options));
    }
    return result;
  } finally {
    server.stop();
  }
}

const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');

/** The tables of workloads 2–5, each figure with its target beside it. */
export function toMarkdown(result: WorkloadsResult): string {
  const o = result.options;
  const lines: string[] = [];
  const kind = new Map(result.contenders.map((c) => [c.name, c]));
  const label = (name: string) => `${name}${kind.get(name)?.peer ? ' (peer)' : ''}`;
  lines.push(
    `# Workloads 2–5 (${process.version})`,
    '',
    `A real token endpoint (client credentials, ${o.tokenLatencyMs} ms latency) and an API that checks every token, in their own process on 127.0.0.1; ${o.connections} connections per client. Counted by the server (token requests, 401s) or at the caller (failures, latency).`,
    '',
    '| contender | family | how it gets and renews tokens |',
    '| --- | --- | --- |',
    ...result.contenders.map((c) => `| ${label(c.name)} | ${c.family} | ${c.how} |`),
    '',
    `## Cold start: ${o.coldRequests.toLocaleString('en')} concurrent requests, empty cache`,
    '',
    '| contender | token requests (target 1) | failures (target 0) | to last response, ms | same, token cached, ms | cold / warm |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...result.cold.map(
      (r) =>
        `| ${label(r.contender)} | ${r.tokenRequests} | ${r.failures} | ${ms(r.coldMs)} | ${ms(r.warmMs)} | ${(r.coldMs / r.warmMs).toFixed(2)} |`,
    ),
    '',
    `## Expiry under steady load: ${o.expiry.lifetimeS} s tokens, ${o.expiry.seconds} s, ${o.expiry.concurrency} callers`,
    '',
    `"Slow, spanning a token request": in flight for the whole of one (from its arrival at the token endpoint to its ${o.tokenLatencyMs} ms later answer), so it may have waited on it — or been held up by something else meanwhile (a GC pause): seen from outside, the two look alike. For authrail the last column says why each token was requested, from its own events: \`refresh-ahead\` is a refresh in the background that no caller waited for, anything else (\`expired\`, \`initial\`, \`invalidated\`) had callers waiting (target: none). "Near a refresh": from 100 ms before a token request to 100 ms after its answer (with ${o.expiry.lifetimeS} s tokens the seconds around successive expiries overlap, so the window is the refresh itself).`,
    '',
    '| contender | requests | token requests | per lifetime (target 1) | slow, spanning a token request | 401s (target 0) | failures (target 0) | p50 / p99 near a refresh, ms | p50 / p99 elsewhere, ms | p99 ratio (target ≤ 1.1) | why, by authrail’s events |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...result.expiry.map(
      (r) =>
        `| ${label(r.contender)} | ${r.requests} | ${r.tokenRequests} | ${r.perLifetime.toFixed(2)} | ${r.waited} | ${r.unauthorized} | ${r.failures} | ${ms(r.near.p50)} / ${ms(r.near.p99)} | ${ms(r.elsewhere.p50)} / ${ms(r.elsewhere.p99)} | ${r.elsewhere.count && r.near.count ? (r.near.p99 / r.elsewhere.p99).toFixed(2) : '— (no request was away from a token request)'} | ${
          r.reasons
            ? Object.entries(r.reasons)
                .map(([why, n]) => `${why} ${n}`)
                .join(', ') || 'none'
            : '—'
        } |`,
    ),
    '',
    `## Revocation storm: the token revoked while ${o.stormRequests.toLocaleString('en')} requests are in flight`,
    '',
    '| contender | token requests (target 1) | replays (target: one per request) | failures (target 0) | duration, ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...result.storm.map(
      (r) =>
        `| ${label(r.contender)} | ${r.tokenRequests} | ${r.replays} of ${r.inFlight} | ${r.failures} | ${ms(r.durationMs)} |`,
    ),
    '',
    `## Memory: ${o.memoryRequests.toLocaleString('en')} requests through each adapter`,
    '',
    '64 in flight. Heap used after GC, before and after (after 1,000 warm-up requests); timers and immediates, and process listeners, before and after.',
    '',
    '| adapter | failures | heap growth, KB (target < 1,024) | timers before → after (target equal) | listeners before → after (target equal) |',
    '| --- | ---: | ---: | --- | --- |',
    ...result.memory.map(
      (r) =>
        `| ${r.contender} | ${r.failures} | ${r.heapGrowthKb.toFixed(0)} | ${r.timersBefore} → ${r.timersAfter} | ${r.listenersBefore} → ${r.listenersAfter} |`,
    ),
  );
  return `${lines.join('\n')}\n`;
}
