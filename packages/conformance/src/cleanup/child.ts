// Cleanup and memory, in a process of its own (run with --expose-gc): what authrail leaves
// behind once its callers are done. Per adapter, against a sandbox it starts: requests
// that succeed, replay after a 401 and are aborted while the token endpoint hangs, all
// under one long-lived caller signal; then `detach` (axios) and the sandbox closed. The
// report says which listeners, timers and sockets remain against a snapshot taken before
// any of it, and how much the heap grew while one strategy rotated 10,000 tokens. It never
// calls process.exit: the parent checks that it ends by itself.
import axios from 'axios';
import ky from 'ky';
import ky1 from 'ky1';
import { getEventListeners, setMaxListeners } from 'node:events';
import {
  createAuthStrategy,
  createToken,
  createTokenManager,
  type AuthResponse,
  type TokenSource,
  type Transport,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { mskApim } from '@authrail/msk-apim';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';

const ADAPTERS = ['fetch', 'ky 1', 'ky 2', 'axios'] as const;
export type CleanupAdapter = (typeof ADAPTERS)[number];

export interface AdapterCleanup {
  adapter: CleanupAdapter;
  /** Requests sent and how they ended. */
  ok: number;
  aborted: number;
  failed: string[];
  /** `abort` listeners left on the caller's long-lived signal (and on each aborted request's). */
  signalListeners: number;
  /** Active handles (timers, sockets, servers) beyond the snapshot taken before the adapter ran. */
  leftOver: string[];
  /** Timers still armed once every caller waiting on a hung token request has given up. */
  timersAfterGivingUp: string[];
  /** Listeners added to `process` and not removed. */
  processListeners: string[];
}

export interface CleanupReport {
  adapters: AdapterCleanup[];
  rotation: { tokens: number; replays: number; heapGrowthBytes: number; leftOver: string[] };
  unhandledRejections: string[];
}

const unhandledRejections: string[] = [];
process.on('unhandledRejection', (reason) => {
  unhandledRejections.push(reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));
});

/** Callers that give up while the token endpoint hangs. */
const QUITTERS = 5;

const gc =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error('run with --expose-gc');
  });

const retry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 5_000 };

/** Active handles by kind, as counts (the process's own stdio among them). */
function handles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

function beyond(before: Map<string, number>, after: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [kind, n] of after)
    if (n > (before.get(kind) ?? 0)) out.push(`${kind} × ${n - (before.get(kind) ?? 0)}`);
  return out;
}

/** Waits up to `ms` for closed sockets to be reaped, then says what is left beyond `before`. */
async function leftOverAfter(before: Map<string, number>, ms = 3_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = beyond(before, handles());
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function processListenerCounts(): Map<string, number> {
  return new Map(process.eventNames().map((name) => [String(name), process.listenerCount(name)]));
}

/** One GET through the adapter with the caller's signal; `detach` undoes what the adapter changed. */
function client(
  adapter: CleanupAdapter,
  sb: Sandbox,
): { get(url: string, signal: AbortSignal): Promise<number>; detach(): void } {
  const strategy = mskApim({
    baseUrl: sb.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
    retry,
  });
  switch (adapter) {
    case 'fetch': {
      const api = createAuthFetch(strategy);
      return {
        async get(url, signal) {
          const response = await api(url, { signal });
          await response.text();
          return response.status;
        },
        detach: () => undefined,
      };
    }
    case 'ky 1':
    case 'ky 2': {
      const api = createAuthKy(strategy, { ky: adapter === 'ky 1' ? (ky1 as unknown as typeof ky) : ky });
      return { get: async (url, signal) => (await api.get(url, { signal })).status, detach: () => undefined };
    }
    case 'axios': {
      const api = axios.create();
      const detach = attachAuth(api, strategy);
      return {
        get: async (url, signal) => (await api.get(url, { signal, responseType: 'text' })).status,
        detach,
      };
    }
  }
}

async function runAdapter(adapter: CleanupAdapter): Promise<AdapterCleanup> {
  const before = handles();
  const processBefore = processListenerCounts();
  const sb = await startSandbox();
  const result: AdapterCleanup = {
    adapter,
    ok: 0,
    aborted: 0,
    failed: [],
    signalListeners: 0,
    leftOver: [],
    timersAfterGivingUp: [],
    processListeners: [],
  };
  const session = new AbortController();
  setMaxListeners(100, session.signal); // 50 requests at a time share it, as a user's would
  const url = `${sb.urls.mskApim.fhirBaseUrl}/Patient`;
  const api = client(adapter, sb);
  const settle = (p: Promise<number>) =>
    p.then(
      (status) => (status === 200 ? result.ok++ : result.failed.push(`HTTP ${status}`)),
      (error: unknown) => {
        const name = (error as { name?: string }).name;
        if (name === 'AbortError' || name === 'TimeoutError' || name === 'CanceledError') result.aborted++;
        else result.failed.push(`${name}: ${(error as Error).message}`);
      },
    );
  try {
    // A cold start shared by 20 callers, then 100 cached requests, 50 at a time.
    await Promise.all(Array.from({ length: 20 }, () => settle(api.get(url, session.signal))));
    for (let round = 0; round < 2; round++)
      await Promise.all(Array.from({ length: 50 }, () => settle(api.get(url, session.signal))));
    // A revoked token: the 401 is answered with a new token and one replay.
    sb.inject('msk-fhir', { type: 'unauthorized' }, { times: 1 });
    await settle(api.get(url, session.signal));
    // Callers that give up while the token endpoint hangs: the shared attempt is abandoned.
    const beforeQuitters = handles();
    sb.inject('msk-token', { type: 'hang' });
    sb.inject('msk-fhir', { type: 'unauthorized' }, { times: QUITTERS });
    const quitters = Array.from({ length: QUITTERS }, () => AbortSignal.timeout(200));
    await Promise.all(
      quitters.map((signal) => settle(api.get(url, AbortSignal.any([session.signal, signal])))),
    );
    // With its last waiter gone, the token request is abandoned: its attempt timer with it.
    result.timersAfterGivingUp = (await leftOverAfter(beforeQuitters, 1_000)).filter((h) =>
      h.startsWith('Timeout'),
    );
    sb.clearFaults();
    // undici's fetch leaves its own listener on a caller's signal until the request is
    // collected (a bare fetch does the same): count after a full GC.
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    result.signalListeners =
      getEventListeners(session.signal, 'abort').length +
      quitters.reduce((n, signal) => n + getEventListeners(signal, 'abort').length, 0);
  } finally {
    api.detach();
    await sb.close();
  }
  result.leftOver = await leftOverAfter(before);
  result.processListeners = beyond(processBefore, processListenerCounts());
  return result;
}

/**
 * One strategy through 10,000 token rotations (half by expiry, half by a 401 that
 * revokes the token), over core's loop with an in-process transport so the heap measured
 * is authrail's. The heap is compared after a warm-up and after the rotations, each
 * after a full GC.
 */
async function rotate(): Promise<CleanupReport['rotation']> {
  const before = handles();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  let tokens = 0;
  let replays = 0;
  const source: TokenSource = {
    identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'rotation' },
    fetchToken: () =>
      Promise.resolve(
        createToken({ accessToken: `rotating-token-${++tokens}`, expiresIn: 60, issuedAt: clock }),
      ),
  };
  const strategy = createAuthStrategy({
    tokens: createTokenManager({ source, now: () => clock }),
    origins: ['https://api.example.org'],
  });
  const revoked = new Set<string>();
  const transport: Transport = (hop) => {
    const used = hop.headers.get('authorization') ?? '';
    const status = revoked.delete(used) ? 401 : 200;
    if (status === 401) replays++;
    return Promise.resolve({
      status,
      headers: new Headers(),
      url: hop.url.href,
      discard: () => undefined,
    } as AuthResponse);
  };
  const round = async (i: number) => {
    if (i % 2 === 0) clock += 61_000;
    else revoked.add(`Bearer rotating-token-${tokens}`);
    const response = await strategy.send(
      { method: 'GET', url: new URL('https://api.example.org/fhir/Patient'), headers: new Headers() },
      transport,
    );
    if (response.status !== 200) throw new Error(`round ${i}: HTTP ${response.status}`);
  };
  const settledHeap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  for (let i = 0; i < 1_000; i++) await round(i);
  const heapBefore = settledHeap();
  const tokensBefore = tokens;
  replays = 0;
  for (let i = 0; i < 10_000; i++) await round(i);
  const heapGrowthBytes = settledHeap() - heapBefore;
  return { tokens: tokens - tokensBefore, replays, heapGrowthBytes, leftOver: await leftOverAfter(before) };
}

const adapters: AdapterCleanup[] = [];
for (const adapter of ADAPTERS) adapters.push(await runAdapter(adapter));
const rotation = await rotate();
const report: CleanupReport = { adapters, rotation, unhandledRejections };
process.stdout.write(`${JSON.stringify(report)}\n`);
setTimeout(
  () => process.stderr.write(`still alive: ${JSON.stringify(process.getActiveResourcesInfo())}\n`),
  3_000,
).unref();
