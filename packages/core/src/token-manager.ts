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
import type { DPoPProver, TokenSource } from './source.js';
import { createMemoryTokenStore, tokenStoreKey, type TokenStore } from './store.js';
import { createToken, tokenInfo, type Token } from './token.js';

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
  /**
   * Each attempt ends after this long and counts as a timeout, whether or not the
   * transport answers its abort: the one timeout of a token request. Default 30 000 ms.
   */
  attemptTimeoutMs?: number;
  /**
   * After the token endpoint refuses the client (`invalid_client`, `unauthorized_client`,
   * `invalid_scope` and other 4xx but 429), it is not asked again for this long, doubling
   * with each refusal in a row up to 5 minutes; calls meanwhile fail at once with the same
   * error, which says until when. Okta allows 300–2,000 token calls a minute per org.
   * `0` turns it off. Default 5 000 ms.
   */
  failureCooldownMs?: number;
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
  /** First cooldown after the token endpoint refuses the client, ms. */
  failureCooldownMs: 5_000,
} as const;

/** The longest cooldown after repeated refusals of the client: 5 minutes. */
const MAX_FAILURE_COOLDOWN_MS = 300_000;

/**
 * The synchronous fast path of the managers this module creates, for core's request
 * loop: the token to serve now, without a promise, when the store answers synchronously
 * and holds a fresh (or stale, refreshed in the background) token; undefined otherwise.
 */
export const servableNow = new WeakMap<TokenManager, () => Token | undefined>();

/** The DPoP prover of a manager's source, for the strategies built on the manager. */
export const proverOf = new WeakMap<TokenManager, DPoPProver>();

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

/** The longest delay a timer can hold: setTimeout turns anything longer into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function nonNegative(
  value: unknown,
  option: string,
  fallback: number,
  { integer = false, min = 0, max = MAX_TIMER_MS } = {},
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new ConfigError(`must be a finite ${integer ? 'integer' : 'number'} from ${min} to ${max}`, {
      option,
    });
  }
  return value;
}

/**
 * Checks that an options group (`refresh`, `retry`) is a plain object with only the
 * keys it knows: a misspelt key would otherwise be ignored without a word.
 */
function checkGroup(value: unknown, option: string, known: readonly string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(`must be an object with ${known.join(', ')}`, { option });
  for (const key of Object.keys(value))
    if (!known.includes(key))
      throw new ConfigError(`is not an option; ${option} takes ${known.join(', ')}`, {
        option: `${option}.${key}`,
      });
}

function checkStore(store: unknown): TokenStore | undefined {
  if (store === undefined) return undefined;
  const methods = store as Partial<Record<keyof TokenStore, unknown>> | null;
  if (
    typeof methods?.get !== 'function' ||
    typeof methods.set !== 'function' ||
    typeof methods.delete !== 'function' ||
    (methods.singleFlight !== undefined && typeof methods.singleFlight !== 'function')
  )
    throw new ConfigError(
      'must be a TokenStore: an object with get, set and delete (and singleFlight, if any, a function)',
      {
        option: 'store',
      },
    );
  return store as TokenStore;
}

function checkFunction<T>(value: T | undefined, option: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new ConfigError('must be a function', { option });
  return value;
}

/** Internal: validates refresh options. */
function resolveRefreshOptions(refresh: RefreshOptions | undefined): Required<RefreshOptions> {
  checkGroup(refresh, 'refresh', Object.keys(DEFAULT_REFRESH));
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
  checkGroup(retry, 'retry', Object.keys(DEFAULT_RETRY));
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
      { min: 1, max: MAX_TIMER_MS },
    ),
    failureCooldownMs: nonNegative(
      retry?.failureCooldownMs,
      'retry.failureCooldownMs',
      DEFAULT_RETRY.failureCooldownMs,
      { max: MAX_FAILURE_COOLDOWN_MS },
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

/** A copy of a rejected token that keeps its refresh token but can never be served (expired at issue). */
function spent(token: Token): Token {
  return createToken({
    accessToken: token.accessToken,
    issuedAt: token.issuedAt,
    expiresAt: token.issuedAt,
    ...(token.scope === undefined ? {} : { scope: token.scope }),
    ...(token.refreshToken === undefined ? {} : { refreshToken: token.refreshToken }),
    extra: token.extra,
  });
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
  /** True while nobody waits for it (a refresh ahead of expiry): its timers keep nothing alive. */
  background: boolean;
  /** Started as a refresh ahead of expiry: when its last waiter leaves it goes back to the background. */
  startedInBackground: boolean;
  /** Callers waiting for it. */
  waiters: number;
  /** Ends the whole flight: every caller that waited has given up. */
  controller: AbortController;
  /** The timers running for it (an attempt's deadline, the backoff), to ref or unref. */
  timers: Set<ReturnType<typeof setTimeout>>;
}

/** A timer of a flight: it keeps the process alive only while a caller waits. */
function flightTimer(flight: Flight, ms: number, fire: () => void): ReturnType<typeof setTimeout> {
  const timer = setTimeout(() => {
    flight.timers.delete(timer);
    fire();
  }, ms);
  if (flight.background) timer.unref?.();
  flight.timers.add(timer);
  return timer;
}

function clearFlightTimer(flight: Flight, timer: ReturnType<typeof setTimeout>): void {
  clearTimeout(timer);
  flight.timers.delete(timer);
}

/** Rejects when the flight is given up; never resolves. */
function abandoned(flight: Flight): Promise<never> {
  return new Promise((_resolve, reject) => {
    const signal = flight.controller.signal;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Waits between attempts, unless the flight is given up meanwhile. */
function sleep(ms: number, flight: Flight): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slept = new Promise<void>((resolve) => {
    timer = flightTimer(flight, ms, resolve);
  });
  return Promise.race([slept, abandoned(flight)]).finally(() => timer && clearFlightTimer(flight, timer));
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
  const store = checkStore(options.store) ?? createMemoryTokenStore();
  const { session } = source.identity;
  if (session !== undefined && (typeof session !== 'string' || session.length === 0))
    throw new ConfigError('must be a non-empty string when given', { option: 'session' });
  if (
    options.store !== undefined &&
    options.store.oneUser !== true &&
    source.identity.actsForUser &&
    session === undefined
  ) {
    // Every user's tokens would share one key: one user's requests would carry another's token.
    throw new ConfigError(
      "must be given when a user flow's tokens go in a store you pass: each user's tokens need their own key",
      { option: 'session' },
    );
  }
  const refresh = resolveRefreshOptions(options.refresh);
  const retry = resolveRetryOptions(options.retry);
  const now = checkFunction(options.now, 'now', Date.now);
  const random = checkFunction(options.random, 'random', Math.random);
  const sink = new EventSink(options.on, options.logger);
  const endpoint = source.identity.tokenEndpoint;
  /** What events show of the endpoint: origin and path, never a query. */
  const shownEndpoint = (() => {
    try {
      const url = new URL(endpoint);
      return `${url.origin}${url.pathname}`;
    } catch {
      return endpoint;
    }
  })();

  let key: string | undefined;
  const keyReady = tokenStoreKey(source.identity).then((k) => (key = k));
  let inflight: Flight | undefined;
  // Bumped whenever this manager writes the store, so a caller whose read raced a write reads again.
  let epoch = 0;
  let backgroundCooldownUntil = 0;
  // A failure that makes the manager refuse locally for a while (throttling, a refused client).
  let refusal: { error: TokenEndpointError; until: number; why: string } | undefined;
  // Refusals of this client in a row, for the doubling cooldown.
  let failures = 0;
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
    const stop = abandoned(flight);
    stop.catch(() => undefined);
    for (;;) {
      attempt += 1;
      const controller = new AbortController();
      const endAttempt = () => controller.abort(flight.controller.signal.reason);
      flight.controller.signal.addEventListener('abort', endAttempt, { once: true });
      let timedOut = false;
      // Every attempt ends by its own deadline, whether or not the source settles: a
      // transport that never answers its abort (undici decoding a stalled gzip body) must
      // not hold the in-flight slot, and every later caller with it, for good.
      let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        deadlineTimer = flightTimer(flight, retry.attemptTimeoutMs, () => {
          timedOut = true;
          const reason = new DOMException(`no answer within ${retry.attemptTimeoutMs} ms`, 'TimeoutError');
          controller.abort(reason);
          reject(reason);
        });
      });
      let delayMs: number;
      try {
        const fetching = source.fetchToken({
          signal: controller.signal,
          ...(refreshToken === undefined ? {} : { refreshToken }),
        });
        fetching.catch(() => undefined); // it may settle after the deadline: nobody waits then
        const token = await Promise.race([fetching, deadline, stop]);
        return { token, attempts: attempt, grant: refreshToken === undefined ? 'primary' : 'refresh_token' };
      } catch (raw) {
        if (flight.controller.signal.aborted) throw flight.controller.signal.reason;
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
        delayMs = retryAfter ?? backoffDelay(attempt, retry, random);
        sink.emit('retry', { attempt, delayMs, error });
        sink.log(
          'warn',
          `authrail: token request attempt ${attempt} failed (${error.code}${(error as TokenEndpointError).status ? ` ${(error as TokenEndpointError).status}` : ''}); retrying in ${delayMs} ms`,
        );
      } finally {
        // The attempt is over: its deadline must not outlive it (nor be counted while we back off).
        if (deadlineTimer) clearFlightTimer(flight, deadlineTimer);
        flight.controller.signal.removeEventListener('abort', endAttempt);
      }
      await sleep(delayMs, flight);
    }
  }

  /**
   * After a failure, whether to refuse locally for a while instead of asking again: a
   * `Retry-After` (or Okta's `X-Rate-Limit-Reset`) longer than we waited is remembered, as
   * MSAL's throttling does; a client the server refused (`invalid_client` and other 4xx) is
   * not asked again for a short, doubling while.
   */
  function remember(error: AuthrailError): void {
    if (!isTokenEndpointError(error)) return;
    const status = error.status ?? 0;
    if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) {
      refusal = { error, until: now() + error.retryAfterMs, why: 'the server asked to wait (Retry-After)' };
      return;
    }
    if (error.code === ErrorCodes.TOKEN_ENDPOINT_ERROR && status >= 400 && status < 500 && status !== 429) {
      if (retry.failureCooldownMs === 0) return;
      failures += 1;
      const cooldown = Math.min(MAX_FAILURE_COOLDOWN_MS, retry.failureCooldownMs * 2 ** (failures - 1));
      refusal = {
        error,
        until: now() + cooldown,
        why: `it refused this client ${failures} time(s) in a row`,
      };
    }
  }

  /** The error to throw instead of asking the token endpoint, while a refusal lasts. */
  function refused(): AuthrailError | undefined {
    if (!refusal) return undefined;
    const remaining = refusal.until - now();
    if (remaining <= 0) return undefined;
    const { error, until, why } = refusal;
    return new TokenEndpointError(
      error.code,
      `${error.message}; not asking ${endpoint} again until ${new Date(until).toISOString()} (${Math.ceil(remaining / 1000)} s): ${why}`,
      {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.error === undefined ? {} : { error: error.error }),
        ...(error.errorDescription === undefined ? {} : { errorDescription: error.errorDescription }),
        ...(error.body === undefined ? {} : { body: error.body }),
        retryAfterMs: remaining,
        endpoint,
        cause: error,
      },
    );
  }

  function startFetch(k: string, previous: Token | undefined, reason: TokenFetchReason): Flight {
    if (inflight) return inflight;
    const background = reason === 'refresh-ahead';
    const flight: Flight = {
      promise: undefined as unknown as Promise<Token>,
      background,
      startedInBackground: background,
      waiters: 0,
      controller: new AbortController(),
      timers: new Set(),
    };
    const started = now();
    flight.promise = (async () => {
      try {
        let fetched: Awaited<ReturnType<typeof attemptLoop>> | undefined;
        let token: Token;
        if (store.singleFlight) {
          // A fleet: the store runs this fetch where no other process runs it, and stores the
          // result itself; or hands over the token another process stored meanwhile.
          token = await store.singleFlight(
            k,
            async (current) => {
              fetched = await attemptLoop(current ?? previous, flight);
              return fetched.token;
            },
            {
              signal: flight.controller.signal,
              isUsable: (candidate) => classifyToken(candidate, now(), refresh) === 'fresh',
            },
          );
        } else {
          fetched = await attemptLoop(previous, flight);
          token = fetched.token;
          await store.set(k, token);
        }
        epoch += 1;
        lastInvalidated = false;
        failures = 0;
        refusal = undefined;
        if (!fetched) {
          sink.log(
            'debug',
            `authrail: token for ${endpoint} taken from the shared store (another process fetched it)`,
          );
          return token;
        }
        const { attempts, grant } = fetched;
        const event = {
          token: tokenInfo(token),
          reason,
          grant,
          attempts,
          durationMs: now() - started,
          endpoint: shownEndpoint,
        };
        if (reason === 'initial') sink.emit('tokenFetched', event);
        else sink.emit('tokenRefreshed', event);
        sink.log(
          'info',
          `authrail: token ${reason === 'initial' ? 'fetched' : `refreshed (${reason})`} from ${endpoint} in ${attempts} attempt(s)`,
        );
        return token;
      } catch (error) {
        if (flight.controller.signal.aborted) {
          sink.log(
            'debug',
            `authrail: token request to ${endpoint} given up: every caller waiting for it left`,
          );
          throw error;
        }
        const err = isAuthrailError(error) ? error : toAuthrailError(error, false, endpoint);
        remember(err);
        // Read now, not at the start: a caller may have joined a background refresh.
        const background = flight.background;
        sink.emit('error', { error: err, phase: background ? 'background-refresh' : 'token' });
        sink.log(
          background ? 'warn' : 'error',
          `authrail: ${background ? 'background refresh' : 'token request'} to ${endpoint} failed: ${err.code}`,
        );
        throw err;
      } finally {
        if (inflight === flight) inflight = undefined;
      }
    })();
    flight.promise.catch(() => undefined); // reported through the error event; a flight nobody waits for must not be unhandled
    inflight = flight;
    return flight;
  }

  /**
   * A caller waits for a flight: while anyone waits, its timers keep the process alive. A
   * caller whose signal aborts leaves; when the last one has left, a flight a caller
   * started is given up (its request aborted, so a hanging endpoint keeps nothing alive),
   * and a refresh ahead of expiry goes back to the background.
   */
  function wait(flight: Flight, signal: AbortSignal | undefined): Promise<Token> {
    flight.waiters += 1;
    if (flight.background) {
      flight.background = false;
      for (const timer of flight.timers) timer.ref?.();
    }
    if (!signal) return flight.promise;
    if (signal.aborted) {
      leave(flight);
      return Promise.reject(abortReason(signal));
    }
    return new Promise<Token>((resolve, reject) => {
      const onAbort = () => {
        leave(flight);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (token) => {
          signal.removeEventListener('abort', onAbort);
          resolve(token);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  function leave(flight: Flight): void {
    flight.waiters -= 1;
    if (flight.waiters > 0) return;
    if (flight.startedInBackground) {
      flight.background = true;
      for (const timer of flight.timers) timer.unref?.();
      return;
    }
    flight.controller.abort(
      new DOMException('every caller waiting for this token request left', 'AbortError'),
    );
    if (inflight === flight) inflight = undefined; // the next caller starts afresh
  }

  function refreshInBackground(k: string, current: Token): void {
    if (inflight || now() < backgroundCooldownUntil || refused()) return;
    startFetch(k, current, 'refresh-ahead').promise.catch(() => {
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
        const refusal = inflight ? undefined : refused();
        if (refusal) throw refusal;
        return wait(inflight ?? startFetch(k, token, lastInvalidated ? 'invalidated' : 'expired'), signal);
      }
      const refusal = inflight ? undefined : refused();
      if (refusal) throw refusal;
      return wait(inflight ?? startFetch(k, undefined, lastInvalidated ? 'invalidated' : 'initial'), signal);
    }
  }

  const manager: TokenManager = {
    getToken,
    async invalidate(token) {
      const k = key ?? (await keyReady);
      const got = read(k);
      const current = isPromiseLike(got) ? await got : got;
      const isCurrent = current !== undefined && current.accessToken === token.accessToken;
      if (isCurrent) lastInvalidated = true;
      if (isCurrent && current.refreshToken !== undefined) {
        // The API refused the access token, not the session: keep the refresh token (in a
        // copy that is already expired, so it is never served) and refresh with it, as an
        // expired token would be. Dropping it would sign the user out on any 401.
        await store.set(k, spent(current));
      } else {
        await store.delete(k, token);
      }
      epoch += 1;
    },
    async setToken(token) {
      const k = key ?? (await keyReady);
      await store.set(k, token);
      lastInvalidated = false;
      refusal = undefined;
      failures = 0;
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
  if (source.dpop) proverOf.set(manager, source.dpop);
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
