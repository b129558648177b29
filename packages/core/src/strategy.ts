/**
 * The strategy interface every adapter consumes, and the factories that build one.
 *
 * @module
 */
import { ConfigError } from './errors.js';
import { PROVIDER_KEYS, STRATEGY_KEYS, checkKnown } from './options.js';
import { EventSink, type AuthEvents, type Logger } from './events.js';
import { normaliseOrigins } from './origins.js';
import { bearer } from './policies/bearer.js';
import type { RequestPolicy } from './policies/types.js';
import type { LoopConfig, RejectWhen } from './loop/call.js';
import { sendWithAuth } from './loop/send.js';
import type { TokenSource } from './source.js';
import type { TokenStore } from './store.js';
import { HEADER_SAFE, createToken, type Token } from './token.js';
import {
  createTokenManager,
  type RefreshOptions,
  type RetryOptions,
  type TokenManager,
} from './token-manager.js';
import type { AuthRequest, AuthResponse, SendOptions, Transport } from './transport.js';

export type { RejectWhen } from './loop/call.js';

/**
 * Auth middleware that owns the request loop, in the shape of Azure's
 * `bearerTokenAuthenticationPolicy.sendRequest(request, next)` and undici's interceptors.
 * An adapter turns its client's transport into a {@link Transport} and hands every
 * request to {@link AuthStrategy.send}; everything else happens here, once:
 *
 * - the origin is checked (exact scheme + host + port) before every hop; only hops to
 *   `origins` get the policies and the credential, and https → http never does;
 * - the policies run and the credential is set, then `next` sends the hop;
 * - a 401 (or `Bearer error="invalid_token"`) invalidates exactly the token that hop
 *   used and replays it once with a fresh one and the same bytes; a second 401 is
 *   returned as it is; `error="insufficient_scope"` is reported, not replayed; a 401
 *   from an origin that got no credential never touches the token;
 * - redirects are followed hop by hop (303 → GET, 301/302 POST → GET, 307/308 the same
 *   method and bytes, at most 20), the caller's `redirect: 'manual' | 'error'` honoured;
 * - events and log lines say what happened, without a secret.
 *
 * @example
 * ```ts
 * // A transport over fetch, one hop per call, and the strategy around it.
 * const next: Transport<AuthResponse & { response: Response }> = async (hop) => {
 *   const response = await fetch(hop.url, { method: hop.method, headers: hop.headers, redirect: hop.redirect });
 *   return { status: response.status, headers: response.headers, discard: () => response.body?.cancel(), response };
 * };
 * const { response } = await strategy.send(
 *   { method: 'GET', url: new URL('https://apim.mskcc.org/msk-apim/external/blaze/fhir/Patient'), headers: new Headers() },
 *   next,
 * );
 * ```
 */
export interface AuthStrategy {
  /**
   * Sends `request` through `next`, authenticated, following redirects and replaying a
   * rejected hop once. Resolves with the response `next` gave for the last hop; rejects
   * with the transport's own error, a `TokenEndpointError`, a `MissingScopeError`, a
   * `RedirectError`, or the caller's abort reason.
   *
   * @param request - the caller's request; never changed
   * @param next - sends one hop with the user's HTTP client
   * @param options - the caller's signal, and how the transport treats redirects
   */
  send<R extends AuthResponse>(request: AuthRequest, next: Transport<R>, options?: SendOptions): Promise<R>;
}

/** An {@link AuthStrategy} backed by a {@link TokenManager}. */
export interface TokenAuthStrategy extends AuthStrategy {
  /** The token manager, for warming up, sign-out, or sharing with another strategy. */
  readonly tokens: TokenManager;
}

/** Options of every strategy factory. */
export interface StrategyOptions {
  /** Origins that may receive the credential, e.g. `['https://apim.mskcc.org']`. Required. */
  origins: readonly string[];
  /** Extra policies, run in order on each hop to an allowed origin, before the credential is set. */
  policies?: readonly RequestPolicy[];
  /** When a 401 counts as a rejected credential. Default `'unauthorized'` (any 401). */
  rejectWhen?: RejectWhen;
  /**
   * Where log lines go (`console`, pino, …). Never given a token or secret. Default: none,
   * except that what a user must hear the first time (a request that went without a
   * credential, once per origin) goes to `console.warn`; `false` silences that too.
   */
  logger?: Logger | false;
  /** Event listeners, for metrics and traces. Default: none. */
  on?: AuthEvents;
}

/** Options of the token manager a strategy builds. */
export interface TokenOptions {
  /** Where tokens are kept. Default: in memory, per strategy. */
  store?: TokenStore;
  /** When tokens are refreshed (see {@link RefreshOptions}). */
  refresh?: RefreshOptions;
  /** How failed token requests are retried, and each attempt's timeout (see {@link RetryOptions}). */
  retry?: RetryOptions;
}

/** Options of {@link createAuthStrategy}. */
export interface CreateAuthStrategyOptions extends StrategyOptions, TokenOptions {
  /** Where tokens come from. Required unless `tokens` is given. */
  source?: TokenSource;
  /**
   * An existing token manager to share, instead of `source`: strategies built on the same
   * manager share one token and one single flight (e.g. one MSK client, several protocols).
   * `store`, `refresh` and `retry` belong to the manager and cannot be given with it.
   */
  tokens?: TokenManager;
  /** Sets the credential on the request, after the other policies. Default {@link bearer}. */
  credential?: RequestPolicy;
}

/**
 * The options every preset accepts on top of its own, passed on to
 * {@link createAuthStrategy} as they are. `origins` is optional here: each preset
 * defaults it to its API's origin.
 *
 * @example
 * ```ts
 * const shared: PresetOptions = { retry: { maxAttempts: 5 }, logger: console, on: { tokenRefreshed: count } };
 * mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001', ...shared });
 * ```
 */
export interface PresetOptions extends Omit<StrategyOptions, 'origins'>, TokenOptions {
  /** Origins that may receive the token. Default: the preset's API origin. */
  origins?: readonly string[];
}

/**
 * For preset authors: checks a preset's options object whole (a misspelt or removed
 * option is a `ConfigError` naming it, as plain JavaScript callers get no type error)
 * and returns the {@link PresetOptions} in it, for `createAuthStrategy`.
 *
 * @param options - the preset's options
 * @param own - the keys the preset takes besides the `PresetOptions` ones
 * @throws {@link ConfigError} naming an unknown key, or `options` when it is not an object
 * @example
 * ```ts
 * export function myVendor(options: PresetOptions & { baseUrl: string; source: TokenSource }) {
 *   const preset = presetOptionsOf(options, ['baseUrl', 'source']);
 *   return createAuthStrategy({ ...preset, source: options.source, origins: preset.origins ?? [new URL(options.baseUrl).origin] });
 * }
 * ```
 */
export function presetOptionsOf(options: PresetOptions, own: readonly string[]): PresetOptions {
  checkKnown(options, 'options', [...PROVIDER_KEYS, ...own]);
  const picked: Record<string, unknown> = {};
  for (const key of PROVIDER_KEYS) if (options[key] !== undefined) picked[key] = options[key];
  return picked as PresetOptions;
}

function checkPolicies(policies: readonly RequestPolicy[] | undefined): readonly RequestPolicy[] {
  if (policies === undefined) return [];
  if (!Array.isArray(policies) || policies.some((p) => typeof p !== 'function')) {
    throw new ConfigError('must be an array of policy functions', { option: 'policies' });
  }
  return policies;
}

function checkRejectWhen(rejectWhen: unknown): RejectWhen {
  if (rejectWhen === undefined) return 'unauthorized';
  if (rejectWhen !== 'unauthorized' && rejectWhen !== 'invalid-token') {
    throw new ConfigError("must be 'unauthorized' or 'invalid-token'", { option: 'rejectWhen' });
  }
  return rejectWhen;
}

/** A header value: visible ASCII with single inner spaces (RFC 9110 §5.5, without obs-text). */
const HEADER_VALUE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

/** Every strategy: the options checked once, and core's loop. */
function buildStrategy(
  options: StrategyOptions,
  credential: RequestPolicy,
  getToken: LoopConfig['getToken'],
  invalidate: LoopConfig['invalidate'],
  dpop?: LoopConfig['dpop'],
): AuthStrategy {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('must be an options object', { option: 'options' });
  }
  const config: LoopConfig = {
    allowedPrefixes: [...normaliseOrigins(options.origins)].map((origin) => `${origin}/`),
    policies: [...checkPolicies(options.policies), credential],
    rejectWhen: checkRejectWhen(options.rejectWhen),
    sink: new EventSink(options.on, options.logger),
    getToken,
    invalidate,
    uncredentialed: new Set(),
    dpop,
  };
  return {
    send: (request, next, sendOptions) => sendWithAuth(config, request, next, sendOptions),
  };
}

/**
 * Builds an {@link AuthStrategy} from a token source: the one-line setup every
 * preset wraps. Hops to `origins` get the policies and a bearer token from a
 * {@link TokenManager}; hops anywhere else are sent untouched.
 *
 * @throws {@link ConfigError} naming the option, for any invalid option
 * @example
 * ```ts
 * const strategy = createAuthStrategy({
 *   source,
 *   origins: ['https://apim.mskcc.org'],
 *   policies: [queryParamScope({ param: 'researchstudy', value: '17-001', required: true })],
 *   on: { tokenRefreshed: (e) => metrics.count('token.refresh', e.reason) },
 * });
 * ```
 */
export function createAuthStrategy(options: CreateAuthStrategyOptions): TokenAuthStrategy {
  checkKnown(options, 'options', [...PROVIDER_KEYS, 'source', 'tokens', 'credential']);
  if (options.credential !== undefined && typeof options.credential !== 'function') {
    throw new ConfigError('must be a policy function', { option: 'credential' });
  }
  if (options.tokens !== undefined) {
    if (typeof options.tokens?.getToken !== 'function' || typeof options.tokens.invalidate !== 'function') {
      throw new ConfigError('must be a TokenManager', { option: 'tokens' });
    }
    for (const option of ['source', 'store', 'refresh', 'retry'] as const) {
      if (options[option] !== undefined)
        throw new ConfigError('cannot be given together with tokens', { option });
    }
  }
  const tokens =
    options.tokens ??
    createTokenManager({
      source: options.source as TokenSource,
      ...(options.store ? { store: options.store } : {}),
      ...(options.refresh ? { refresh: options.refresh } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.on ? { on: options.on } : {}),
    });
  const strategy = buildStrategy(
    options,
    options.credential ?? bearer(),
    // A cached token is served without a promise; anything else goes through the manager.
    (signal) => tokens.getTokenNow?.() ?? tokens.getToken(signal ? { signal } : {}),
    (token) => tokens.invalidate(token),
    tokens.dpop,
  );
  return { send: strategy.send, tokens };
}

/** Options of {@link createStaticTokenStrategy}. */
export interface StaticTokenStrategyOptions extends StrategyOptions {
  /** The token, e.g. a personal access token. */
  token: string;
  /** `Bearer`, the only type that can be sent without a proof (RFC 6749 §7.1). Default `Bearer`. */
  tokenType?: 'Bearer';
}

/**
 * A strategy with a fixed bearer token and no token server. A 401 is never replayed:
 * the same token would be rejected again (the `rejected` event says `not-refreshable`).
 *
 * @throws {@link ConfigError} naming `token` when no header can carry it (empty,
 *   whitespace, control characters, non-ASCII), or `tokenType` when it is not `Bearer`
 * @example
 * ```ts
 * const strategy = createStaticTokenStrategy({ token: process.env.API_TOKEN!, origins: ['https://api.example.org'] });
 * ```
 */
export function createStaticTokenStrategy(options: StaticTokenStrategyOptions): AuthStrategy {
  checkKnown(options, 'options', [...STRATEGY_KEYS, 'token', 'tokenType']);
  if (typeof options?.token !== 'string' || !HEADER_SAFE.test(options.token)) {
    throw new ConfigError(
      'must be a non-empty string of visible ASCII (no whitespace, control characters or non-ASCII)',
      {
        option: 'token',
        secrets: [typeof options?.token === 'string' ? options.token : undefined],
      },
    );
  }
  if (
    options.tokenType !== undefined &&
    (typeof options.tokenType !== 'string' || options.tokenType.toLowerCase() !== 'bearer')
  ) {
    throw new ConfigError("must be 'Bearer' when given: only bearer tokens can be sent without a proof", {
      option: 'tokenType',
    });
  }
  const token: Token = createToken({ accessToken: options.token });
  return buildStrategy(options, bearer(), () => token, undefined);
}

/** Options of {@link createApiKeyStrategy}. */
export interface ApiKeyStrategyOptions extends StrategyOptions {
  /** The API key. */
  key: string;
  /** Header to carry the key. Default `X-API-Key` unless `query` is given. */
  header?: string;
  /** Query parameter to carry the key instead of a header. */
  query?: string;
}

/**
 * A strategy that sends an API key in a header (default `X-API-Key`) or a query
 * parameter, only to the allowed origins and never on a redirect hop elsewhere. A 401
 * is never replayed.
 *
 * @throws {@link ConfigError} naming `key`, `header` or `query`
 * @example
 * ```ts
 * createApiKeyStrategy({ key: process.env.KEY!, header: 'Ocp-Apim-Subscription-Key', origins: ['https://apim.example.org'] });
 * ```
 */
export function createApiKeyStrategy(options: ApiKeyStrategyOptions): AuthStrategy {
  checkKnown(options, 'options', [...STRATEGY_KEYS, 'key', 'header', 'query']);
  if (options.header !== undefined && typeof options.header !== 'string')
    throw new ConfigError('must be a header name (a string)', { option: 'header' });
  if (typeof options?.key !== 'string' || options.key.length === 0) {
    throw new ConfigError('must be a non-empty string', { option: 'key' });
  }
  if (options.query === undefined ? !HEADER_VALUE.test(options.key) : /\p{Cs}/u.test(options.key)) {
    throw new ConfigError(
      options.query === undefined
        ? 'must be visible ASCII to go in a header (no control characters, non-ASCII, or spaces at either end)'
        : 'must be a well-formed string (no lone surrogates)',
      { option: 'key', secrets: [options.key] },
    );
  }
  if (options.header !== undefined && options.query !== undefined) {
    throw new ConfigError('give either header or query, not both', { option: 'query' });
  }
  if (options.query !== undefined && (typeof options.query !== 'string' || options.query.length === 0)) {
    throw new ConfigError('must be a non-empty query parameter name', { option: 'query' });
  }
  const { key, query } = options;
  const header = options.header ?? 'X-API-Key';
  try {
    new Headers().set(header, key);
  } catch {
    throw new ConfigError('must be a valid header name, and the key a valid header value', {
      option: 'header',
      secrets: [key],
    });
  }
  const credential: RequestPolicy =
    query === undefined
      ? (request) => request.headers.set(header, key)
      : (request) => request.url.searchParams.set(query, key);
  return buildStrategy(options, credential, undefined, undefined);
}
