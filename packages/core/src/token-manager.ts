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
import { resolveRefreshOptions, tokenRules, type RefreshOptions, type TokenRules } from './token-rules.js';

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
  /** Where log lines go; `false` for nowhere (as a strategy's `logger`). */
  logger?: Logger | false;
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

/** A manager's settled options: everything its parts need. */
interface ManagerSettings {
  source: TokenSource;
  store: TokenStore;
  rules: TokenRules;
  retry: Required<RetryOptions>;
  now: () => number;
  sink: EventSink;
  attempts: AttemptSettings;
}

/**
 * The manager behind {@link createTokenManager}: the store read and written under the
 * source's key, one {@link Flight} at a time, and the {@link Refusals} it remembers.
 */
class ManagedTokens {
  readonly #s: ManagerSettings;
  readonly #endpoint: string;
  readonly #refusals: Refusals;
  readonly #keyReady: Promise<string>;
  #key: string | undefined;
  #inflight: Flight | undefined;
  /** Bumped whenever this manager writes the store, so a caller whose read raced a write reads again. */
  #epoch = 0;
  #backgroundCooldownUntil = 0;
  /** The store is empty because the API rejected the last token, not because nothing was fetched yet. */
  #lastInvalidated = false;

  constructor(settings: ManagerSettings) {
    this.#s = settings;
    this.#endpoint = settings.source.identity.tokenEndpoint;
    this.#refusals = new Refusals(settings.retry.failureCooldownMs, settings.now);
    this.#keyReady = tokenStoreKey(settings.source.identity).then((k) => (this.#key = k));
  }

  async getToken({ signal }: GetTokenOptions = {}): Promise<Token> {
    if (signal?.aborted) throw abortReason(signal);
    const k = this.#key ?? (await raceSignal(this.#keyReady, signal));
    for (let round = 0; ; round += 1) {
      const seen = this.#epoch;
      const got = this.#s.store.get(k);
      const token = isPromiseLike(got) ? await raceSignal(got, signal) : got;
      if (seen !== this.#epoch && round < 3) continue;
      return this.#servable(k, token) ?? this.#waitForNew(k, token, signal);
    }
  }

  getTokenNow(): Token | undefined {
    const k = this.#key;
    if (k === undefined) return undefined;
    const token = this.#s.store.get(k);
    return isPromiseLike(token) ? undefined : this.#servable(k, token);
  }

  invalidate(token: Token): Promise<void> {
    return this.#write(async (k) => {
      const { store } = this.#s;
      const got = store.get(k);
      const current = isPromiseLike(got) ? await got : got;
      if (current === undefined || current.accessToken !== token.accessToken) return store.delete(k, token);
      this.#lastInvalidated = true;
      // The API refused the access token, not the session: keep the refresh token (in a
      // copy that is already expired, so it is never served) and refresh with it, as an
      // expired token would be. Dropping it would sign the user out on any 401.
      return current.refreshToken === undefined ? store.delete(k, token) : store.set(k, spent(current));
    });
  }

  setToken(token: Token): Promise<void> {
    return this.#write((k) => {
      this.#lastInvalidated = false;
      this.#refusals.forget();
      return this.#s.store.set(k, token);
    });
  }

  clear(): Promise<void> {
    return this.#write((k) => {
      this.#lastInvalidated = false;
      return this.#s.store.delete(k);
    });
  }

  async peek(): Promise<Token | undefined> {
    return this.#s.store.get(this.#key ?? (await this.#keyReady));
  }

  /** Writes the store under the key and notes that this manager did (see `#epoch`). */
  async #write(change: (k: string) => unknown): Promise<void> {
    await change(this.#key ?? (await this.#keyReady));
    this.#epoch += 1;
  }

  /** The token to serve at once, if `token` is one: fresh, or stale (refreshed in the background). */
  #servable(k: string, token: Token | undefined): Token | undefined {
    if (!token) return undefined;
    // One moment for both questions: a token cannot be judged at two times.
    const { rules } = this.#s;
    const at = this.#s.now();
    if (rules.isExpired(token, at)) return undefined;
    if (rules.isStale(token, at)) this.#refreshInBackground(k, token);
    return token;
  }

  /** Waits for a new token (the flight in the air, or a new one), unless the endpoint refused us lately. */
  #waitForNew(k: string, current: Token | undefined, signal: AbortSignal | undefined): Promise<Token> {
    if (!this.#inflight) {
      const refusal = this.#refusals.refused(this.#endpoint);
      if (refusal) return Promise.reject(refusal);
    }
    const reason: TokenFetchReason = this.#lastInvalidated ? 'invalidated' : current ? 'expired' : 'initial';
    return (this.#inflight ?? this.#startFetch(k, current, reason)).join(signal);
  }

  #refreshInBackground(k: string, current: Token): void {
    const { now, retry } = this.#s;
    if (this.#inflight || now() < this.#backgroundCooldownUntil || this.#refusals.refused(this.#endpoint))
      return;
    // Without a refresh token, a source that asks a person would ask them now, while nobody
    // waits: the token is served until it expires and the next caller signs in.
    if (this.#s.source.interactive === true && current.refreshToken === undefined) return;
    this.#startFetch(k, current, 'refresh-ahead').promise.catch(() => {
      // Reported through the error event; the current token stays in use. Back off so a
      // failing endpoint is not hit on every request.
      this.#backgroundCooldownUntil = now() + retry.maxDelayMs;
    });
  }

  #startFetch(k: string, previous: Token | undefined, reason: TokenFetchReason): Flight {
    const over = (flight: Flight) => {
      if (this.#inflight === flight) this.#inflight = undefined; // the next caller starts afresh
    };
    this.#inflight ??= new Flight(
      reason === 'refresh-ahead',
      (flight) => this.#fetchAndStore(k, previous, reason, flight).finally(() => over(flight)),
      over,
    );
    return this.#inflight;
  }

  /** Fetches (or, in a fleet, takes another process's) token and stores it; says what happened. */
  async #fetchAndStore(
    k: string,
    previous: Token | undefined,
    reason: TokenFetchReason,
    flight: Flight,
  ): Promise<Token> {
    const { store, rules, now, attempts } = this.#s;
    const started = now();
    try {
      let fetched: Fetched | undefined;
      let token: Token;
      if (store.singleFlight) {
        // A fleet: the store runs this fetch where no other process runs it, and stores the
        // result itself; or hands over the token another process stored meanwhile.
        token = await store.singleFlight(
          k,
          async (current) => (fetched = await runAttempts(attempts, current ?? previous, flight)).token,
          { signal: flight.signal, isUsable: (candidate) => rules.isFresh(candidate, now()) },
        );
      } else {
        fetched = await runAttempts(attempts, previous, flight);
        token = fetched.token;
        await store.set(k, token);
      }
      this.#epoch += 1;
      this.#lastInvalidated = false;
      this.#refusals.forget();
      this.#reportFetched(reason, fetched, token, now() - started);
      return token;
    } catch (error) {
      throw this.#reportFailed(error, flight, now() - started);
    }
  }

  #reportFetched(reason: TokenFetchReason, fetched: Fetched | undefined, token: Token, ms: number): void {
    const { sink } = this.#s;
    const endpoint = this.#endpoint;
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

  #reportFailed(error: unknown, flight: Flight, ms: number): unknown {
    const { sink } = this.#s;
    const endpoint = this.#endpoint;
    if (flight.signal.aborted) {
      sink.log('debug', `authrail: token request to ${endpoint} given up: every caller waiting for it left`);
      return error;
    }
    const typed = isAuthrailError(error) ? error : toTokenEndpointError(error, { endpoint });
    this.#refusals.remember(typed);
    const background = flight.background;
    sink.emit('error', { error: typed, phase: background ? 'background-refresh' : 'token', durationMs: ms });
    sink.log(
      background ? 'warn' : 'error',
      `authrail: ${background ? 'background refresh' : 'token request'} to ${endpoint} failed: ${typed.code}`,
    );
    return typed;
  }
}

/**
 * Creates a {@link TokenManager}. Most users get one through `createAuthStrategy` or a
 * preset rather than directly.
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
  const retry = resolveRetryOptions(options.retry);
  const now = checkFunction(options.now, 'now', Date.now);
  const sink = new EventSink(options.on, options.logger);
  const random = checkFunction(options.random, 'random', Math.random);
  const tokens = new ManagedTokens({
    source,
    store: given ?? createMemoryTokenStore(),
    rules: tokenRules(resolveRefreshOptions(options.refresh)),
    retry,
    now,
    sink,
    attempts: { source, retry, random, now, sink, endpoint: source.identity.tokenEndpoint },
  });
  // A plain object of functions, so a wrapper may spread it as well as delegate to it.
  return {
    getToken: (getOptions) => tokens.getToken(getOptions),
    getTokenNow: () => tokens.getTokenNow(),
    invalidate: (token) => tokens.invalidate(token),
    setToken: (token) => tokens.setToken(token),
    clear: () => tokens.clear(),
    peek: () => tokens.peek(),
    ...(source.dpop ? { dpop: source.dpop } : {}),
  };
}
