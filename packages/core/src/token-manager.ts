/**
 * The token manager: cache, refresh ahead of expiry, single flight, bounded retries.
 *
 * @module
 */
import type { AuthrailError } from './errors.js';
import {
  ConfigError,
  ErrorCodes,
  TokenEndpointError,
  isAuthrailError,
  isTokenEndpointError,
} from './errors.js';
import { EventSink, type AuthEvents, type Logger, type TokenFetchReason } from './events.js';
import type { TokenSource } from './source.js';
import { createMemoryTokenStore, tokenStoreKey, type TokenStore } from './store.js';
import { tokenInfo, type Token } from './token.js';

/**
 * When to refresh. A token is served until `expiresAt - skew`; from
 * `expiresAt - refreshAhead` a background refresh starts while callers keep getting
 * the current token, so in steady state nobody waits.
 *
 * Both windows scale down for short-lived tokens: skew is at most 10 % and the
 * refresh-ahead window at most 50 % of the token's lifetime, so a 60 s token is
 * refreshed from 30 s and served until 54 s.
 *
 * Why these defaults: Go's oauth2 treats tokens as expired 10 s early (clock skew plus
 * request latency) and google-auth-library refreshes 5 min early; Azure Identity starts
 * a background refresh early and blocks only at the very end. We take Go's 10 s as the
 * hard margin and google's 5 min as the background window, which leaves room for
 * several retried attempts (with backoff) before any caller has to wait.
 */
export interface RefreshOptions {
  /** A token counts as expired this long before `expiresAt`. Default 10 000 ms (at most 10 % of lifetime). */
  skewMs?: number;
  /** A background refresh starts this long before `expiresAt`. Default 300 000 ms (at most 50 % of lifetime). */
  refreshAheadMs?: number;
}

/**
 * Retries of failed token requests. Only transient failures are retried: network
 * errors, timeouts, 429 (waiting as long as `Retry-After` says) and 5xx. Other 4xx
 * (such as `invalid_client`) fail at once. Delays grow exponentially with full jitter.
 */
export interface RetryOptions {
  /** Attempts per token request, including the first. Default 3. */
  maxAttempts?: number;
  /** First backoff delay. Default 250 ms. */
  baseDelayMs?: number;
  /** Largest backoff delay. Default 10 000 ms. */
  maxDelayMs?: number;
  /** A `Retry-After` longer than this fails at once instead of waiting. Default 60 000 ms. */
  maxRetryAfterMs?: number;
  /** Each attempt is aborted after this long and counts as a timeout. Default 30 000 ms. */
  attemptTimeoutMs?: number;
}

/** Options of {@link createTokenManager}. */
export interface TokenManagerOptions {
  /** Where tokens come from. */
  source: TokenSource;
  /** Where tokens are kept. Default: an in-memory store of this manager's own. */
  store?: TokenStore;
  /** When tokens are refreshed. */
  refresh?: RefreshOptions;
  /** How failed token requests are retried. */
  retry?: RetryOptions;
  /** Where log lines go. */
  logger?: Logger;
  /** Event listeners. */
  on?: AuthEvents;
  /** The clock, in epoch ms. For tests. Default `Date.now`. */
  now?: () => number;
  /** Random numbers in [0, 1) for jitter. For tests. Default `Math.random`. */
  random?: () => number;
}

/** Options of {@link TokenManager.getToken}. */
export interface GetTokenOptions {
  /** Stops this caller's wait. A token request shared with other callers goes on for them. */
  signal?: AbortSignal;
}

/**
 * Gives out valid tokens. Any number of concurrent callers cause at most one token
 * request at a time.
 */
export interface TokenManager {
  /** Returns a valid token: the cached one, or a new one when none is usable. */
  getToken(options?: GetTokenOptions): Promise<Token>;
  /** Drops exactly this token (if it is still the stored one), so the next caller gets a new one. */
  invalidate(token: Token): Promise<void>;
  /** Stores a token obtained elsewhere (e.g. from an authorization code exchange). */
  setToken(token: Token): Promise<void>;
  /** Drops the stored token, whatever it is (sign-out). */
  clear(): Promise<void>;
  /** The stored token, if any, as it is: never fetches or refreshes (e.g. "is anyone signed in?"). */
  peek(): Promise<Token | undefined>;
}

/** The defaults, for docs and tests. */
export const DEFAULT_REFRESH = {
  /** 10 s, Go oauth2's margin. */
  skewMs: 10_000,
  /** 5 min, google-auth-library's window. */
  refreshAheadMs: 300_000,
} as const;
/** The defaults, for docs and tests. */
const DEFAULT_RETRY = {
  /** Attempts per token request, including the first. */
  maxAttempts: 3,
  /** First backoff delay, ms. */
  baseDelayMs: 250,
  /** Largest backoff delay, ms. */
  maxDelayMs: 10_000,
  /** Longest `Retry-After` honoured, ms. */
  maxRetryAfterMs: 60_000,
  /** Per-attempt timeout, ms. */
  attemptTimeoutMs: 30_000,
} as const;

/**
 * The synchronous fast path of the managers this module creates, for core's request
 * loop: the token to serve now, without a promise, when the store answers synchronously
 * and holds a fresh (or stale, refreshed in the background) token; undefined otherwise.
 */
export const servableNow = new WeakMap<TokenManager, () => Token | undefined>();

/** Where a token stands: `fresh` (serve it), `stale` (serve it, refresh in the background), `expired` (wait for a new one). */
export type TokenState = 'fresh' | 'stale' | 'expired';

/**
 * Where a token stands at `now`: `fresh` (serve it), `stale` (serve it and refresh in
 * the background) or `expired` (wait for a new one).
 */
export function classifyToken(token: Token, now: number, refresh: Required<RefreshOptions>): TokenState {
  if (token.expiresAt === undefined) return 'fresh';
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  const skew = Math.min(refresh.skewMs, lifetime * 0.1);
  const ahead = Math.max(skew, Math.min(refresh.refreshAheadMs, lifetime * 0.5));
  if (now >= token.expiresAt - skew) return 'expired';
  if (now >= token.expiresAt - ahead) return 'stale';
  return 'fresh';
}

function nonNegative(
  value: unknown,
  option: string,
  fallback: number,
  { integer = false, min = 0 } = {},
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    throw new ConfigError(`must be a finite ${integer ? 'integer' : 'number'} >= ${min}`, { option });
  }
  return value;
}

/** Internal: validates refresh options. */
function resolveRefreshOptions(refresh: RefreshOptions | undefined): Required<RefreshOptions> {
  return {
    skewMs: nonNegative(refresh?.skewMs, 'refresh.skewMs', DEFAULT_REFRESH.skewMs),
    refreshAheadMs: nonNegative(
      refresh?.refreshAheadMs,
      'refresh.refreshAheadMs',
      DEFAULT_REFRESH.refreshAheadMs,
    ),
  };
}

/** Internal: validates retry options. */
function resolveRetryOptions(retry: RetryOptions | undefined): Required<RetryOptions> {
  return {
    maxAttempts: nonNegative(retry?.maxAttempts, 'retry.maxAttempts', DEFAULT_RETRY.maxAttempts, {
      integer: true,
      min: 1,
    }),
    baseDelayMs: nonNegative(retry?.baseDelayMs, 'retry.baseDelayMs', DEFAULT_RETRY.baseDelayMs),
    maxDelayMs: nonNegative(retry?.maxDelayMs, 'retry.maxDelayMs', DEFAULT_RETRY.maxDelayMs),
    maxRetryAfterMs: nonNegative(
      retry?.maxRetryAfterMs,
      'retry.maxRetryAfterMs',
      DEFAULT_RETRY.maxRetryAfterMs,
    ),
    attemptTimeoutMs: nonNegative(
      retry?.attemptTimeoutMs,
      'retry.attemptTimeoutMs',
      DEFAULT_RETRY.attemptTimeoutMs,
      {
        min: 1,
      },
    ),
  };
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, base * 2^(attempt-1))].
 * A server's `Retry-After` wins when it is given.
 *
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelay(attempt: number, retry: Required<RetryOptions>, random: () => number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Rejects when `signal` aborts, without cancelling `promise` for anyone else. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A token request in flight, shared by every caller that needs a token meanwhile. */
interface Flight {
  promise: Promise<Token>;
  /** True while nobody waits for it (a refresh ahead of expiry); a waiting caller clears it. */
  background: boolean;
  /** The backoff timer between attempts, if one is running. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Waits between attempts. A background refresh never keeps a process alive; a waiting caller's fetch does. */
function sleep(ms: number, flight: Flight): Promise<void> {
  return new Promise((resolve) => {
    flight.timer = setTimeout(() => {
      flight.timer = undefined;
      resolve();
    }, ms);
    if (flight.background) flight.timer.unref?.();
  });
}

/** Turns anything a source threw into an {@link AuthrailError}. */
function toAuthrailError(error: unknown, timedOut: boolean, endpoint: string): AuthrailError {
  if (timedOut) {
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
      `token endpoint ${endpoint} did not answer in time`,
      {
        cause: error,
        endpoint,
      },
    );
  }
  if (isAuthrailError(error)) return error;
  return new TokenEndpointError(
    ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
    `token request to ${endpoint} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, endpoint },
  );
}

/**
 * Creates a {@link TokenManager}. Most users get one through `createAuthStrategy` or a
 * provider preset rather than directly.
 *
 * @example
 * ```ts
 * const tokens = createTokenManager({ source, refresh: { refreshAheadMs: 120_000 } });
 * const token = await tokens.getToken();
 * ```
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const source = options?.source;
  if (
    !source ||
    typeof source.fetchToken !== 'function' ||
    typeof source.identity?.tokenEndpoint !== 'string'
  ) {
    throw new ConfigError('must be a TokenSource with fetchToken() and identity', { option: 'source' });
  }
  const refresh = resolveRefreshOptions(options.refresh);
  const retry = resolveRetryOptions(options.retry);
  const store = options.store ?? createMemoryTokenStore();
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sink = new EventSink(options.on, options.logger);
  const endpoint = source.identity.tokenEndpoint;

  let key: string | undefined;
  const keyReady = tokenStoreKey(source.identity).then((k) => (key = k));
  let inflight: Flight | undefined;
  // Bumped whenever this manager writes the store, so a caller whose read raced a write reads again.
  let epoch = 0;
  let backgroundCooldownUntil = 0;
  // The store is empty because the API rejected the last token, not because nothing was fetched yet.
  let lastInvalidated = false;

  function read(k: string): Token | undefined | Promise<Token | undefined> {
    return store.get(k);
  }

  async function attemptLoop(
    previous: Token | undefined,
    flight: Flight,
  ): Promise<{ token: Token; attempts: number; grant: 'primary' | 'refresh_token' }> {
    let refreshToken = previous?.refreshToken;
    let attempt = 0;
    for (;;) {
      attempt += 1;
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, retry.attemptTimeoutMs);
      timer.unref?.();
      try {
        const token = await source.fetchToken({
          signal: controller.signal,
          ...(refreshToken === undefined ? {} : { refreshToken }),
        });
        return { token, attempts: attempt, grant: refreshToken === undefined ? 'primary' : 'refresh_token' };
      } catch (raw) {
        const error = toAuthrailError(raw, timedOut, endpoint);
        const retryable = isTokenEndpointError(error) && error.retryable;
        if (!retryable && refreshToken !== undefined && error.code === ErrorCodes.TOKEN_ENDPOINT_ERROR) {
          // The refresh token was refused (expired, revoked, rotated elsewhere): fall back to the primary grant once.
          sink.log(
            'info',
            `authrail: refresh token refused by ${endpoint} (${(error as TokenEndpointError).error ?? 'error'}); using the primary grant`,
          );
          refreshToken = undefined;
          attempt -= 1;
          continue;
        }
        if (!retryable || attempt >= retry.maxAttempts) throw error;
        const retryAfter = (error as TokenEndpointError).retryAfterMs;
        if (retryAfter !== undefined && retryAfter > retry.maxRetryAfterMs) throw error;
        const delayMs = retryAfter ?? backoffDelay(attempt, retry, random);
        sink.emit('retry', { attempt, delayMs, error });
        sink.log(
          'warn',
          `authrail: token request attempt ${attempt} failed (${error.code}${(error as TokenEndpointError).status ? ` ${(error as TokenEndpointError).status}` : ''}); retrying in ${delayMs} ms`,
        );
        await sleep(delayMs, flight);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  function startFetch(k: string, previous: Token | undefined, reason: TokenFetchReason): Promise<Token> {
    if (inflight) return inflight.promise;
    const flight: Flight = {
      promise: undefined as unknown as Promise<Token>,
      background: reason === 'refresh-ahead',
      timer: undefined,
    };
    const started = now();
    flight.promise = (async () => {
      try {
        const { token, attempts, grant } = await attemptLoop(previous, flight);
        await store.set(k, token);
        epoch += 1;
        lastInvalidated = false;
        const event = { token: tokenInfo(token), reason, grant, attempts, durationMs: now() - started };
        if (reason === 'initial') sink.emit('tokenFetched', event);
        else sink.emit('tokenRefreshed', event);
        sink.log(
          'info',
          `authrail: token ${reason === 'initial' ? 'fetched' : `refreshed (${reason})`} from ${endpoint} in ${attempts} attempt(s)`,
        );
        return token;
      } catch (error) {
        const err = isAuthrailError(error) ? error : toAuthrailError(error, false, endpoint);
        // Read now, not at the start: a caller may have joined a background refresh.
        const background = flight.background;
        sink.emit('error', { error: err, phase: background ? 'background-refresh' : 'token' });
        sink.log(
          background ? 'warn' : 'error',
          `authrail: ${background ? 'background refresh' : 'token request'} to ${endpoint} failed: ${err.code}`,
        );
        throw err;
      } finally {
        inflight = undefined;
      }
    })();
    inflight = flight;
    return flight.promise;
  }

  /** A caller now waits for the flight in progress: it is no longer in the background. */
  function join(): Promise<Token> | undefined {
    if (!inflight) return undefined;
    if (inflight.background) {
      inflight.background = false;
      inflight.timer?.ref?.();
    }
    return inflight.promise;
  }

  function refreshInBackground(k: string, current: Token): void {
    if (inflight || now() < backgroundCooldownUntil) return;
    startFetch(k, current, 'refresh-ahead').catch(() => {
      // Reported through the error event; the current token stays in use. Back off so a
      // failing endpoint is not hit on every request.
      backgroundCooldownUntil = now() + retry.maxDelayMs;
    });
  }

  async function getToken(getOptions: GetTokenOptions = {}): Promise<Token> {
    const signal = getOptions.signal;
    if (signal?.aborted) throw abortReason(signal);
    const k = key ?? (await raceSignal(keyReady, signal));
    for (let round = 0; ; round += 1) {
      const seen = epoch;
      const got = read(k);
      const token = isPromiseLike(got) ? await raceSignal(got, signal) : got;
      if (seen !== epoch && round < 3) continue;
      if (token) {
        const state = classifyToken(token, now(), refresh);
        if (state === 'fresh') return token;
        if (state === 'stale') {
          refreshInBackground(k, token);
          return token;
        }
        return raceSignal(join() ?? startFetch(k, token, 'expired'), signal);
      }
      return raceSignal(
        join() ?? startFetch(k, undefined, lastInvalidated ? 'invalidated' : 'initial'),
        signal,
      );
    }
  }

  const manager: TokenManager = {
    getToken,
    async invalidate(token) {
      const k = key ?? (await keyReady);
      const got = read(k);
      const current = isPromiseLike(got) ? await got : got;
      if (current && current.accessToken === token.accessToken) lastInvalidated = true;
      await store.delete(k, token);
      epoch += 1;
    },
    async setToken(token) {
      const k = key ?? (await keyReady);
      await store.set(k, token);
      lastInvalidated = false;
      epoch += 1;
    },
    async clear() {
      const k = key ?? (await keyReady);
      await store.delete(k);
      lastInvalidated = false;
      epoch += 1;
    },
    async peek() {
      return read(key ?? (await keyReady));
    },
  };
  servableNow.set(manager, () => {
    if (key === undefined) return undefined;
    const token = read(key);
    if (token === undefined || isPromiseLike(token)) return undefined;
    const state = classifyToken(token, now(), refresh);
    if (state === 'expired') return undefined;
    if (state === 'stale') refreshInBackground(key, token);
    return token;
  });
  return manager;
}
