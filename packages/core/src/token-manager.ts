/**
 * The token manager: cache, refresh ahead of expiry, single flight, bounded retries. Its
 * parts are split by what they decide: {@link tokenRules} (fresh, stale, expired), the
 * {@link Flight} (one request at a time and its timers), {@link runAttempts} (retries,
 * backoff, the refresh token's fallback) and {@link Refusals} (not asking again while
 * refused). This module puts them together around the store.
 *
 * @module
 */
import {
  runAttempts,
  resolveRetryOptions,
  type AttemptSettings,
  type Fetched,
  type RetryOptions,
} from './attempts.js';
import { ConfigError, isAuthrailError, toTokenEndpointError } from './errors.js';
import { EventSink, type AuthEvents, type Logger, type TokenFetchReason } from './events.js';
import { Flight } from './flight.js';
import { checkFunction, checkKnown } from './options.js';
import { Refusals } from './refusals.js';
import type { DPoPProver, TokenSource } from './source.js';
import { createMemoryTokenStore, tokenStoreKey, type TokenStore } from './store.js';
import { createToken, tokenInfo, type Token } from './token.js';
import { resolveRefreshOptions, tokenRules, type RefreshOptions } from './token-rules.js';

export type { RefreshOptions } from './token-rules.js';
export type { RetryOptions } from './attempts.js';

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
  /**
   * The clock, in epoch ms, for tests. Every token the manager's source makes is stamped
   * with it too (`FetchTokenOptions.now`), so refresh timing follows it. Default `Date.now`.
   */
  now?: () => number;
  /** Random numbers in [0, 1) for jitter. For tests. Default `Math.random`. */
  random?: () => number;
}

const MANAGER_OPTIONS = ['source', 'store', 'refresh', 'retry', 'logger', 'on', 'now', 'random'] as const;

/** Options of {@link TokenManager.getToken}. */
export interface GetTokenOptions {
  /** Stops this caller's wait. A token request shared with other callers goes on for them. */
  signal?: AbortSignal;
}

/**
 * Gives out valid tokens. Any number of concurrent callers cause at most one token
 * request at a time. Everything core's request loop needs of a manager is a member here,
 * so a wrapper (to log, to count) that delegates every member keeps every feature.
 *
 * @example
 * ```ts
 * // Counts token reads, and keeps everything else as it is.
 * const inner = createTokenManager({ source });
 * let reads = 0;
 * const counted: TokenManager = {
 *   getToken: (options) => ((reads += 1), inner.getToken(options)),
 *   getTokenNow: () => inner.getTokenNow?.(),
 *   invalidate: (token) => inner.invalidate(token),
 *   setToken: (token) => inner.setToken(token),
 *   clear: () => inner.clear(),
 *   peek: () => inner.peek(),
 *   dpop: inner.dpop,
 * };
 * ```
 */
export interface TokenManager {
  /** Returns a valid token: the cached one, or a new one when none is usable. */
  getToken(options?: GetTokenOptions): Promise<Token>;
  /**
   * The token to serve now, without a promise: the cached one when the store answers at
   * once and it is fresh (or stale: a background refresh starts), else undefined, and the
   * caller uses {@link getToken}. Core's request loop asks it first, so a request with a
   * cached token waits for nothing. Optional: without it every request goes through
   * `getToken`.
   */
  getTokenNow?(): Token | undefined;
  /** Drops exactly this token (if it is still the stored one), so the next caller gets a new one. */
  invalidate(token: Token): Promise<void>;
  /** Stores a token obtained elsewhere (e.g. from an authorization code exchange). */
  setToken(token: Token): Promise<void>;
  /** Drops the stored token, whatever it is (sign-out). */
  clear(): Promise<void>;
  /** The stored token, if any, as it is: never fetches or refreshes (e.g. "is anyone signed in?"). */
  peek(): Promise<Token | undefined>;
  /**
   * The prover of the key the tokens are bound to (DPoP, RFC 9449), when they are: the
   * source's. Core's request loop proves every request that carries one with it; a
   * wrapper that leaves it out cannot send DPoP-bound tokens.
   */
  readonly dpop?: DPoPProver;
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
      { option: 'store' },
    );
  return store as TokenStore;
}

/** The source, checked, and the rule that a user flow's tokens in a shared store need a session. */
function checkSource(options: TokenManagerOptions, store: TokenStore | undefined): TokenSource {
  const source = options.source;
  if (
    !source ||
    typeof source.fetchToken !== 'function' ||
    typeof source.identity?.tokenEndpoint !== 'string'
  )
    throw new ConfigError('must be a TokenSource with fetchToken() and identity', { option: 'source' });
  const { session, actsForUser } = source.identity;
  if (session !== undefined && (typeof session !== 'string' || session.length === 0))
    throw new ConfigError('must be a non-empty string when given', { option: 'session' });
  if (store !== undefined && store.oneUser !== true && actsForUser && session === undefined) {
    // Every user's tokens would share one key: one user's requests would carry another's token.
    throw new ConfigError(
      "must be given when a user flow's tokens go in a store you pass: each user's tokens need their own key",
      { option: 'session' },
    );
  }
  return source;
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

/** What events and log lines show of an endpoint: origin and path, never a query. */
function shownEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.origin}${url.pathname}`;
  } catch {
    return endpoint;
  }
}

/**
 * Creates a {@link TokenManager}. Most users get one through `createAuthStrategy` or a
 * provider preset rather than directly.
 *
 * @throws {@link ConfigError} naming the option, for any invalid option
 * @example
 * ```ts
 * const tokens = createTokenManager({ source, refresh: { refreshAheadMs: 120_000 } });
 * const token = await tokens.getToken();
 * ```
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  checkKnown(options, 'options', MANAGER_OPTIONS);
  if (options === undefined) throw new ConfigError('must be an options object', { option: 'options' });
  const given = checkStore(options.store);
  const source = checkSource(options, given);
  const store = given ?? createMemoryTokenStore();
  const rules = tokenRules(resolveRefreshOptions(options.refresh));
  const retry = resolveRetryOptions(options.retry);
  const now = checkFunction(options.now, 'now', Date.now);
  const sink = new EventSink(options.on, options.logger);
  const endpoint = source.identity.tokenEndpoint;
  const settings: AttemptSettings = {
    source,
    retry,
    random: checkFunction(options.random, 'random', Math.random),
    now,
    sink,
    endpoint,
  };
  const refusals = new Refusals(retry.failureCooldownMs, now);

  let key: string | undefined;
  const keyReady = tokenStoreKey(source.identity).then((k) => (key = k));
  let inflight: Flight | undefined;
  // Bumped whenever this manager writes the store, so a caller whose read raced a write reads again.
  let epoch = 0;
  let backgroundCooldownUntil = 0;
  // The store is empty because the API rejected the last token, not because nothing was fetched yet.
  let lastInvalidated = false;

  /** Fetches (or, in a fleet, takes another process's) token and stores it; says what happened. */
  async function fetchAndStore(
    k: string,
    previous: Token | undefined,
    reason: TokenFetchReason,
    flight: Flight,
  ): Promise<Token> {
    const started = now();
    try {
      let fetched: Fetched | undefined;
      let token: Token;
      if (store.singleFlight) {
        // A fleet: the store runs this fetch where no other process runs it, and stores the
        // result itself; or hands over the token another process stored meanwhile.
        token = await store.singleFlight(
          k,
          async (current) => (fetched = await runAttempts(settings, current ?? previous, flight)).token,
          { signal: flight.signal, isUsable: (candidate) => rules.isFresh(candidate, now()) },
        );
      } else {
        fetched = await runAttempts(settings, previous, flight);
        token = fetched.token;
        await store.set(k, token);
      }
      epoch += 1;
      lastInvalidated = false;
      refusals.forget();
      reportFetched(reason, fetched, token, now() - started);
      return token;
    } catch (error) {
      throw reportFailed(error, flight);
    }
  }

  function reportFetched(
    reason: TokenFetchReason,
    fetched: Fetched | undefined,
    token: Token,
    ms: number,
  ): void {
    if (!fetched) {
      sink.log(
        'debug',
        `authrail: token for ${endpoint} taken from the shared store (another process fetched it)`,
      );
      return;
    }
    const { attempts, grant } = fetched;
    const event = {
      token: tokenInfo(token),
      reason,
      grant,
      attempts,
      durationMs: ms,
      endpoint: shownEndpoint(endpoint),
    };
    sink.emit(reason === 'initial' ? 'tokenFetched' : 'tokenRefreshed', event);
    sink.log(
      'info',
      `authrail: token ${reason === 'initial' ? 'fetched' : `refreshed (${reason})`} from ${endpoint} in ${attempts} attempt(s)`,
    );
  }

  function reportFailed(error: unknown, flight: Flight): unknown {
    if (flight.signal.aborted) {
      sink.log('debug', `authrail: token request to ${endpoint} given up: every caller waiting for it left`);
      return error;
    }
    const typed = isAuthrailError(error) ? error : toTokenEndpointError(error, { endpoint });
    refusals.remember(typed);
    const background = flight.background;
    sink.emit('error', { error: typed, phase: background ? 'background-refresh' : 'token' });
    sink.log(
      background ? 'warn' : 'error',
      `authrail: ${background ? 'background refresh' : 'token request'} to ${endpoint} failed: ${typed.code}`,
    );
    return typed;
  }

  function startFetch(k: string, previous: Token | undefined, reason: TokenFetchReason): Flight {
    inflight ??= new Flight(
      reason === 'refresh-ahead',
      (flight) =>
        fetchAndStore(k, previous, reason, flight).finally(() => {
          if (inflight === flight) inflight = undefined;
        }),
      (flight) => {
        if (inflight === flight) inflight = undefined; // the next caller starts afresh
      },
    );
    return inflight;
  }

  function refreshInBackground(k: string, current: Token): void {
    if (inflight || now() < backgroundCooldownUntil || refusals.refused(endpoint)) return;
    startFetch(k, current, 'refresh-ahead').promise.catch(() => {
      // Reported through the error event; the current token stays in use. Back off so a
      // failing endpoint is not hit on every request.
      backgroundCooldownUntil = now() + retry.maxDelayMs;
    });
  }

  /** The token to serve at once, if `token` is one: fresh, or stale (refreshed in the background). */
  function servable(k: string, token: Token | undefined): Token | undefined {
    if (!token || rules.isExpired(token, now())) return undefined;
    if (rules.isStale(token, now())) refreshInBackground(k, token);
    return token;
  }

  /** Waits for a new token (the flight in the air, or a new one), unless the endpoint refused us lately. */
  function waitForNew(
    k: string,
    current: Token | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Token> {
    if (!inflight) {
      const refusal = refusals.refused(endpoint);
      if (refusal) return Promise.reject(refusal);
    }
    const reason: TokenFetchReason = lastInvalidated ? 'invalidated' : current ? 'expired' : 'initial';
    return (inflight ?? startFetch(k, current, reason)).join(signal);
  }

  async function getToken({ signal }: GetTokenOptions = {}): Promise<Token> {
    if (signal?.aborted) throw abortReason(signal);
    const k = key ?? (await raceSignal(keyReady, signal));
    for (let round = 0; ; round += 1) {
      const seen = epoch;
      const got = store.get(k);
      const token = isPromiseLike(got) ? await raceSignal(got, signal) : got;
      if (seen !== epoch && round < 3) continue;
      return servable(k, token) ?? waitForNew(k, token, signal);
    }
  }

  /** Writes the store under the key and notes that this manager did (see `epoch`). */
  async function write(change: (k: string) => unknown): Promise<void> {
    await change(key ?? (await keyReady));
    epoch += 1;
  }

  return {
    getToken,
    getTokenNow() {
      if (key === undefined) return undefined;
      const token = store.get(key);
      return isPromiseLike(token) ? undefined : servable(key, token);
    },
    invalidate: (token) =>
      write(async (k) => {
        const got = store.get(k);
        const current = isPromiseLike(got) ? await got : got;
        if (current === undefined || current.accessToken !== token.accessToken) return store.delete(k, token);
        lastInvalidated = true;
        // The API refused the access token, not the session: keep the refresh token (in a
        // copy that is already expired, so it is never served) and refresh with it, as an
        // expired token would be. Dropping it would sign the user out on any 401.
        return current.refreshToken === undefined ? store.delete(k, token) : store.set(k, spent(current));
      }),
    setToken: (token) =>
      write((k) => {
        lastInvalidated = false;
        refusals.forget();
        return store.set(k, token);
      }),
    clear: () =>
      write((k) => {
        lastInvalidated = false;
        return store.delete(k);
      }),
    peek: async () => store.get(key ?? (await keyReady)),
    ...(source.dpop ? { dpop: source.dpop } : {}),
  };
}
