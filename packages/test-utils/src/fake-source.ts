// A scriptable TokenSource and a manual clock: core's unit tests drive the token manager
// through it, and adapter tests build a strategy on it (no token server needed). Token
// endpoint HTTP is tested against real servers in oauth2 and the presets.
import {
  createToken,
  TokenEndpointError,
  ErrorCodes,
  type FetchTokenOptions,
  type Token,
  type TokenSource,
} from '@authrail/core';

export const SECRET = 'sup3r-s3cret-client-value';

export type Step =
  | { kind: 'token'; lifetimeS?: number; refreshToken?: string; delayMs?: number }
  | {
      kind: 'fail';
      status?: number;
      error?: string;
      retryAfterMs?: number;
      code?: (typeof ErrorCodes)[keyof typeof ErrorCodes];
    }
  | { kind: 'network' }
  /** Never answers; rejects when its signal aborts. */
  | { kind: 'hang' }
  /** Never settles at all, not even when aborted (undici decoding a stalled gzip body). */
  | { kind: 'wedge' };

export interface FakeSource extends TokenSource {
  calls: FetchTokenOptions[];
  issued: Token[];
  /** Steps consumed in order; when empty, `fallback` applies. */
  steps: Step[];
  fallback: Step;
  /** Resolves pending `hang`/delayed calls; tests may use it to control timing. */
  pending: number;
}

export function fakeSource(
  clock: () => number = Date.now,
  fallback: Step = { kind: 'token', lifetimeS: 3600 },
): FakeSource {
  let n = 0;
  const source: FakeSource = {
    identity: { tokenEndpoint: 'https://auth.example.org/oauth2/token', clientId: 'client-1', scope: 'full' },
    calls: [],
    issued: [],
    steps: [],
    fallback,
    pending: 0,
    async fetchToken(options) {
      source.calls.push(options);
      const step = source.steps.shift() ?? source.fallback;
      source.pending += 1;
      try {
        switch (step.kind) {
          case 'token': {
            if (step.delayMs) await abortableDelay(step.delayMs, options.signal);
            n += 1;
            const token = createToken(
              {
                accessToken: `access-token-${n}-${SECRET.slice(0, 4)}x`,
                expiresIn: step.lifetimeS,
                ...(step.refreshToken ? { refreshToken: step.refreshToken } : {}),
              },
              clock(),
            );
            source.issued.push(token);
            return token;
          }
          case 'fail':
            throw new TokenEndpointError(
              step.code ?? ErrorCodes.TOKEN_ENDPOINT_ERROR,
              `token endpoint said ${step.error ?? step.status}`,
              {
                status: step.status,
                error: step.error,
                retryAfterMs: step.retryAfterMs,
                secrets: [SECRET],
              },
            );
          case 'network':
            throw new TypeError(`fetch failed (client_secret=${SECRET})`);
          case 'hang':
            await abortableDelay(Number.POSITIVE_INFINITY, options.signal);
            throw new Error('unreachable');
          case 'wedge':
            return await new Promise<never>(() => undefined);
        }
      } finally {
        source.pending -= 1;
      }
    },
  };
  return source;
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    set(ms: number) {
      t = ms;
    },
  };
}

/** Lets pending promise callbacks and zero-delay timers run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
