import ky, { type Options as KyOptions } from 'ky';
import { ConfigError, isAuthrailError, withoutAddedQuery, type AuthStrategy } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';

/**
 * The parts of a ky instance the adapter uses; ky 1.14+ and 2.x both fit. Typed
 * structurally so the adapter does not pin one major's types.
 *
 * @example
 * ```ts
 * import ky1 from 'ky1'; // "ky1": "npm:ky@1" next to ky 2
 * const api = createAuthKy(strategy, { ky: ky1, prefixUrl: 'https://api.example.org/' });
 * ```
 */
export interface KyLike<K> {
  /**
   * ky's `extend`: a new instance with these options merged in. authrail calls its
   * function form (`extend(parent => options)`, ky 1.14+ and 2.x).
   */
  extend(options: Record<string, unknown>): K;
}

/**
 * Options of {@link createAuthKy}: ky's own options (typed by the ky you installed: ky 1's
 * `prefixUrl` with ky 1, ky 2's `prefix` and `baseUrl` with ky 2), plus the ky instance to extend.
 *
 * @example
 * ```ts
 * const options: AuthKyOptions = { prefix: 'https://api.example.org/', retry: { limit: 3 }, timeout: 5_000 };
 * const api = createAuthKy(strategy, options);
 * ```
 */
export type AuthKyOptions<K = typeof ky> = Omit<KyOptions, 'fetch'> & {
  /** The ky instance to extend. Default: the `ky` this package resolves (your installed ky). */
  ky?: KyLike<K>;
  /** The `fetch` ky would use. authrail wraps it. */
  fetch?: typeof fetch;
};

/**
 * The user's ky, extended so that every request goes through the strategy's request loop.
 *
 * authrail is ky's transport: it sits in ky's `fetch` option (through
 * `@authrail/fetch`), under ky's hooks and retry loop and over the wire. Each attempt ky
 * makes (the first and ky's own retries) carries a valid credential; a 401 is replayed
 * once with a fresh token *inside* the attempt, so it never uses up your `retry.limit`,
 * and ky's `timeout` covers the token wait and the replay. authrail's own errors
 * (`MissingScopeError`, `TokenEndpointError`: the token endpoint was already retried by
 * core) are never retried by ky: a `retry.shouldRetry` guard is composed with yours (and
 * the base instance's), backed by a `beforeRetry` hook that also holds for instances you
 * `extend` from this one. A body is read (up to 1 MiB, from a clone of ky's `Request`)
 * so that a replay can send it again; a longer one (a large stream) is sent once, and its
 * 401 returned. The credential is never on ky's own `Request`; a query
 * credential the policies set (an API key) is left out of the `response.url` an
 * `HTTPError` holds (a `beforeError` hook). `prefixUrl` (ky 1) / `prefix` and `baseUrl`
 * (ky 2), `searchParams`, your hooks and `throwHttpErrors` behave as they always do; a
 * second 401 becomes ky's `HTTPError`.
 *
 * @param strategy - any {@link AuthStrategy}, e.g. from a preset
 * @param options - ky options, plus `ky` (the instance to extend; default: the `ky` your
 *   project resolves) and `fetch` (the transport under authrail)
 * @returns an instance of the same ky major, made by `options.ky.extend(...)`
 * @throws `ConfigError` (from `@authrail/core`) naming `strategy` or `ky` when either is not one
 * @example
 * ```ts
 * import { createAuthKy } from '@authrail/ky';
 * import { oktaClientCredentials } from '@authrail/okta';
 *
 * const ctrp = createAuthKy(
 *   oktaClientCredentials({ issuer, clientId, clientSecret, scope: 'ctrp.accrual', origins: ['https://ctrp.cancer.gov'] }),
 * );
 * await ctrp.put(accrualUrl, { body: xml, headers: { 'Content-Type': 'application/xml' } });
 * ```
 */
export function createAuthKy<K = typeof ky>(strategy: AuthStrategy, options: AuthKyOptions<K> = {}): K {
  if (typeof strategy?.send !== 'function') {
    throw new ConfigError('must be an AuthStrategy (with send)', { option: 'strategy' });
  }
  const { ky: base = ky as unknown as KyLike<K>, fetch: innerFetch, ...kyOptions } = options;
  if (typeof base?.extend !== 'function') throw new ConfigError('must be a ky instance', { option: 'ky' });
  const userHooks = (kyOptions.hooks ?? {}) as Record<string, unknown[] | undefined>;
  const authFetch = createAuthFetch(strategy, innerFetch ? { fetch: innerFetch } : {});
  const extend = base.extend.bind(base) as unknown as (
    derive: (parent: Record<string, unknown>) => object,
  ) => K;
  // The function form of `extend` (ky 1.14+ and 2.x) lets the guard wrap a `shouldRetry`
  // the parent already has, instead of replacing it.
  return extend((parent) => ({
    ...kyOptions,
    hooks: {
      ...userHooks,
      beforeRetry: [rethrowAuthrailErrors, ...(userHooks.beforeRetry ?? [])],
      beforeError: [withoutQueryCredentials, ...(userHooks.beforeError ?? [])],
    },
    fetch: authFetch,
    ...guardRetry(parent.retry, kyOptions.retry),
  }));
}

/**
 * A `beforeError` hook: the `response.url` of an `HTTPError` is the URL the last hop went
 * to, with any query credential the policies set (an API key); the values ky's own request
 * did not have are left out of it. ky 1 passes the error, ky 2 a state with it.
 */
function withoutQueryCredentials(...args: unknown[]): unknown {
  const error = (args[0] instanceof Error ? args[0] : (args[0] as { error?: unknown } | undefined)?.error) as
    { request?: unknown; response?: unknown } | undefined;
  const { request, response } = error ?? {};
  if (request instanceof Request && response instanceof Response && response.url) {
    const shown = withoutAddedQuery(new URL(response.url), new URL(request.url).search);
    if (shown !== response.url) Object.defineProperty(response, 'url', { value: shown, enumerable: true });
  }
  return error;
}

type ShouldRetry = (state: {
  error: Error;
  retryCount: number;
}) => boolean | undefined | Promise<boolean | undefined>;

/** A retry limit as ky reads one: a number, an object's `limit`, or none given. */
function limitOf(retry: unknown): number | undefined {
  if (typeof retry === 'number') return retry;
  const limit = (retry as { limit?: unknown } | null | undefined)?.limit;
  return typeof limit === 'number' ? limit : undefined;
}

/**
 * The `retry` option, with a `shouldRetry` that never retries authrail's own errors
 * (`MissingScopeError`, `TokenEndpointError`, `RedirectError`: the token manager already
 * retried the token endpoint) and otherwise defers to yours or the base instance's, then
 * to ky's defaults (ky 1 retries any non-HTTP error; ky 2 only network errors). Only the
 * keys you set are passed on (ky merges the rest from the base instance), and nothing is
 * added when no retry can happen: ky normalises `retry` on every request.
 */
function guardRetry(parent: unknown, own: unknown): { retry?: unknown } {
  const limit = limitOf(own) ?? limitOf(parent) ?? 2;
  if (limit === 0) return own === undefined ? {} : { retry: own };
  const mine = typeof own === 'object' && own !== null ? (own as Record<string, unknown>) : {};
  const user = (mine.shouldRetry ?? (parent as { shouldRetry?: unknown } | null | undefined)?.shouldRetry) as
    ShouldRetry | undefined;
  const shouldRetry: ShouldRetry = (state) => (isAuthrailError(state.error) ? false : user?.(state));
  // A number is ky's shorthand for `{ limit }`; ky 1 does not expand it when an object is
  // merged over it, so the limit is said here.
  const expanded =
    typeof own === 'number'
      ? { limit: own }
      : typeof parent === 'number' && mine.limit === undefined
        ? { limit: parent }
        : {};
  return { retry: { ...mine, ...expanded, shouldRetry } };
}

/**
 * A `beforeRetry` hook that ends ky's retry loop on authrail's own errors: the backstop
 * for ky 1 when a per-request numeric `retry` replaced the guarded `shouldRetry`.
 */
function rethrowAuthrailErrors(...args: unknown[]): undefined {
  const state = args[0] as { error?: unknown } | undefined;
  if (isAuthrailError(state?.error)) throw state.error;
  return undefined;
}
