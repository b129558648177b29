import ky from 'ky';
import { ConfigError, isAuthrailError, type AuthorizeResult, type AuthStrategy } from '@authrail/core';
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
 * Options of {@link createAuthKy}: ky's own options, plus the ky instance to extend.
 *
 * @example
 * ```ts
 * const options: AuthKyOptions = { prefix: 'https://api.example.org/', retry: { limit: 3 }, timeout: 5_000 };
 * const api = createAuthKy(strategy, options);
 * ```
 */
export type AuthKyOptions<K = typeof ky> = Record<string, unknown> & {
  /** The ky instance to extend. Default: the `ky` this package resolves (your installed ky). */
  ky?: KyLike<K>;
  /** The `fetch` ky would use. authrail wraps it. */
  fetch?: typeof fetch;
};

/**
 * An extended ky instance that authenticates every request to the strategy's origins.
 *
 * authrail sits in ky's `fetch` option, under ky's retry loop: each attempt ky makes
 * (first try and ky's own retries) is authorized afresh, so a retry after a 5xx carries
 * a refreshed token; a 401 is answered by one replay with a fresh token *inside* the
 * attempt, so it never uses up your `retry.limit` (and ky's `timeout` covers the token
 * wait and the replay). authrail's own errors (`MissingScopeError`, `TokenEndpointError`)
 * are never retried by ky: a `retry.shouldRetry` guard is composed with yours (and the
 * base instance's), backed by a `beforeRetry` hook. `prefixUrl` (ky 1) / `prefix` and
 * `baseUrl` (ky 2), `searchParams`, your hooks and `throwHttpErrors` behave as they always
 * do; a second 401 becomes ky's `HTTPError`.
 *
 * @param strategy - any {@link AuthStrategy}, e.g. from a provider preset
 * @param options - ky options, plus `ky` (the instance to extend; default: the `ky` your
 *   project resolves) and `fetch` (the transport under authrail)
 * @returns `options.ky.extend(...)`: an instance of the same ky major
 * @throws {@link ConfigError} naming `strategy` or `ky` when either is not one
 * @example
 * ```ts
 * import { createAuthKy } from '@authrail/ky';
 * import { oktaClientCredentials } from '@authrail/okta';
 *
 * const ctrp = createAuthKy(oktaClientCredentials({ issuer, clientId, clientSecret, scope: 'ctrp.accrual' }));
 * await ctrp.put(accrualUrl, { body: xml, headers: { 'Content-Type': 'application/xml' } });
 * ```
 */
export function createAuthKy<K = typeof ky>(strategy: AuthStrategy, options: AuthKyOptions<K> = {}): K {
  if (
    typeof strategy?.authorize !== 'function' ||
    typeof strategy.isRejected !== 'function' ||
    typeof strategy.reject !== 'function'
  ) {
    throw new ConfigError('must be an AuthStrategy (authorize, isRejected, reject)', { option: 'strategy' });
  }
  const { ky: base = ky as unknown as KyLike<K>, fetch: innerFetch, ...kyOptions } = options;
  if (typeof base?.extend !== 'function') throw new ConfigError('must be a ky instance', { option: 'ky' });
  // ky turns every body into a Request body; remember which ones began as a caller's
  // stream, so the fetch layer neither buffers nor replays them.
  const streamed = new WeakSet<Request>();
  const markStream = (...args: unknown[]) => {
    const request = requestOf(args);
    const kyOptionsSeen = (
      args[0] instanceof Request ? args[1] : (args[0] as { options?: unknown } | undefined)?.options
    ) as { body?: unknown } | undefined;
    if (request && typeof ReadableStream !== 'undefined' && kyOptionsSeen?.body instanceof ReadableStream)
      streamed.add(request);
  };
  const userHooks = (kyOptions.hooks ?? {}) as Record<string, unknown[] | undefined>;
  const authFetch = createAuthFetch(strategy, {
    ...(innerFetch ? { fetch: innerFetch } : {}),
    isOneShot: (request) => streamed.has(request),
  });
  // The function form of `extend` (ky 1.14+ and 2.x) lets the guard wrap a `shouldRetry`
  // the base instance already has, instead of replacing it.
  const extend = base.extend.bind(base) as unknown as (
    derive: (parent: Record<string, unknown>) => object,
  ) => K;
  return extend((parent) => ({
    ...kyOptions,
    retry: guardRetry(parent.retry, kyOptions.retry),
    hooks: {
      ...userHooks,
      beforeRequest: [...(userHooks.beforeRequest ?? []), markStream],
      beforeRetry: [rethrowAuthrailErrors, ...(userHooks.beforeRetry ?? [])],
    },
    fetch: authFetch,
  }));
}

type ShouldRetry = (state: {
  error: Error;
  retryCount: number;
}) => boolean | undefined | Promise<boolean | undefined>;

/**
 * ky's retry options with a `shouldRetry` that never retries authrail's own errors
 * (`MissingScopeError`, `TokenEndpointError`: the token manager already retried the token
 * endpoint) and otherwise defers to the user's `shouldRetry`, then to ky's defaults.
 * ky 1 retries any non-HTTP error; ky 2 only network errors.
 */
function guardRetry(parent: unknown, own: unknown): Record<string, unknown> {
  const asObject = (value: unknown): Record<string, unknown> =>
    typeof value === 'number'
      ? { limit: value }
      : typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)
        : {};
  const merged = { ...asObject(parent), ...asObject(own) };
  const user = merged.shouldRetry as ShouldRetry | undefined;
  const shouldRetry: ShouldRetry = (state) => (isAuthrailError(state.error) ? false : user?.(state));
  return { ...merged, shouldRetry };
}

/**
 * A `beforeRetry` hook that ends ky's retry loop on authrail's own errors: the backstop
 * for ky 1 when a per-request numeric `retry` replaced the guarded `shouldRetry`, and for
 * {@link authHooks} on instances authrail did not create.
 */
function rethrowAuthrailErrors(...args: unknown[]): undefined {
  const state = args[0] as { error?: unknown } | undefined;
  if (isAuthrailError(state?.error)) throw state.error;
  return undefined;
}

/**
 * A ky hook as authrail writes it: it accepts both majors' calling conventions (ky 1
 * passes arguments, ky 2 one state object) and fits ky's hook types.
 *
 * @example
 * ```ts
 * const [authorize]: AuthHook<Request>[] = authHooks(strategy).beforeRequest;
 * ```
 */
export type AuthHook<R> = (...args: unknown[]) => Promise<R | undefined>;

/**
 * ky hooks that authenticate requests; for instances you do not want to re-create.
 *
 * @example
 * ```ts
 * const hooks: AuthHooks = authHooks(strategy);
 * const api = ky.create({ hooks: { ...hooks, beforeError: [logError] } });
 * ```
 */
export interface AuthHooks {
  /** Returns a replacement `Request` when scoping changed the URL. */
  beforeRequest: AuthHook<Request>[];
  /** Updates the retry's credential in place. */
  beforeRetry: AuthHook<never>[];
  /** Returns the replayed `Response` after a 401. */
  afterResponse: AuthHook<Response>[];
}

/**
 * Options of {@link authHooks}.
 *
 * @example
 * ```ts
 * const hooks = authHooks(strategy, { fetch: myFetch });
 * ```
 */
export interface AuthHooksOptions {
  /** The `fetch` used to replay a rejected request. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

// ky 1 calls hooks with positional arguments, ky 2 with one state object.
function requestOf(args: unknown[]): Request | undefined {
  const [first] = args;
  if (first instanceof Request) return first;
  const state = first as { request?: unknown } | undefined;
  return state?.request instanceof Request ? state.request : undefined;
}

function responseOf(args: unknown[]): Response | undefined {
  if (args[2] instanceof Response) return args[2];
  const state = args[0] as { response?: unknown } | undefined;
  return state?.response instanceof Response ? state.response : undefined;
}

/**
 * ky hooks for authrail, for ky 1.14+ and 2.x: `beforeRequest` authorizes,
 * `beforeRetry` re-authorizes ky's retries, `afterResponse` answers a 401 with one
 * replay (through `fetch`: ky 1's `fetch` option, else `options.fetch`, else the global)
 * with a fresh token, outside ky's retry count and ky's `timeout` (the caller's signal
 * still applies); `beforeRetry` also ends ky's retries on authrail's own errors. Prefer
 * {@link createAuthKy}, which sits under ky's retry loop. With ky 2 and `retry: 0`, ky
 * keeps no copy of a request body, so a rejected request with a body is not replayed
 * (the `rejected` event says why).
 *
 * @param strategy - any {@link AuthStrategy}
 * @param options - `fetch` for the replay
 * @returns hooks to pass to `ky.create({ hooks })` or merge with yours
 * @throws {@link ConfigError} naming `strategy` when it is not one
 * @example
 * ```ts
 * const api = ky.create({ prefix: 'https://api.example.org/', hooks: authHooks(strategy) });
 * ```
 */
export function authHooks(strategy: AuthStrategy, options: AuthHooksOptions = {}): AuthHooks {
  if (typeof strategy?.authorize !== 'function')
    throw new ConfigError('must be an AuthStrategy', { option: 'strategy' });
  // The credential a request carries identifies what authorize() used, across ky's clones.
  const usedByCredential = new Map<string, AuthorizeResult>();
  const remember = (headers: Headers, used: AuthorizeResult) => {
    const credential = headers.get('authorization');
    if (!used.applied || !credential) return;
    usedByCredential.set(credential, used);
    if (usedByCredential.size > 64) usedByCredential.delete(usedByCredential.keys().next().value as string);
  };
  const authorize = async (request: Request) => {
    const view = { method: request.method, url: new URL(request.url), headers: new Headers(request.headers) };
    const used = await strategy.authorize(view, { signal: request.signal });
    return { view, used };
  };

  return {
    beforeRequest: [
      async (...args: unknown[]) => {
        const request = requestOf(args);
        if (!request) return undefined;
        const { view, used } = await authorize(request);
        if (!used.applied) return undefined;
        remember(view.headers, used);
        if (view.url.href === request.url) {
          view.headers.forEach((value, name) => request.headers.set(name, value));
          return undefined;
        }
        return new Request(view.url, new Request(request, { headers: view.headers }));
      },
    ],
    beforeRetry: [
      async (...args: unknown[]) => {
        rethrowAuthrailErrors(...args);
        const request = requestOf(args);
        if (!request) return undefined;
        const { view, used } = await authorize(request);
        if (used.applied) {
          remember(view.headers, used);
          view.headers.forEach((value, name) => request.headers.set(name, value));
        }
        return undefined;
      },
    ],
    afterResponse: [
      async (...args: unknown[]) => {
        const request = requestOf(args);
        const response = responseOf(args);
        if (!request || !response || !strategy.isRejected(response)) return undefined;
        const used = usedByCredential.get(request.headers.get('authorization') ?? '');
        if (!used) return undefined;
        const replayable = request.bodyUsed ? 'body already sent (ky keeps no copy when retry is 0)' : true;
        const decision = await strategy.reject(used, {
          method: request.method,
          url: new URL(request.url),
          replayCount: 0,
          replayable,
        });
        if (!decision.replay) return undefined;
        const again = request.clone();
        const { view, used: fresh } = await authorize(again);
        remember(view.headers, fresh);
        // ky 1 hands hooks its `fetch` option; ky 2 does not (then: the option here, or the global).
        const kyFetch = (
          args[0] instanceof Request ? (args[1] as { fetch?: unknown } | undefined)?.fetch : undefined
        ) as typeof fetch | undefined;
        const send = options.fetch ?? kyFetch ?? globalThis.fetch;
        const replayed = await send(new Request(view.url, new Request(again, { headers: view.headers })));
        if (strategy.isRejected(replayed)) {
          await strategy.reject(fresh, {
            method: request.method,
            url: view.url,
            replayCount: 1,
            replayable: true,
          });
        }
        return replayed;
      },
    ],
  };
}
