/**
 * The strategy interface every adapter consumes, and the factories that build one.
 *
 * @module
 */
import { ConfigError } from './errors.js';
import { EventSink, type AuthEvents, type Logger, type ReplayReason } from './events.js';
import { bearer } from './policies/bearer.js';
import { normaliseOrigins } from './policies/origin-allowlist.js';
import type { AuthRequest, PolicyContext, RequestPolicy } from './policies/types.js';
import type { TokenSource } from './source.js';
import type { TokenStore } from './store.js';
import { createToken, type Token } from './token.js';
import {
  createTokenManager,
  type RefreshOptions,
  type RetryOptions,
  type TokenManager,
} from './token-manager.js';

/** Options of {@link AuthStrategy.authorize}. */
export interface AuthorizeOptions {
  /** The caller's signal; aborts a token fetch this request is waiting for. */
  signal?: AbortSignal;
}

/** What {@link AuthStrategy.authorize} did: pass it to {@link AuthStrategy.reject} if the response is rejected. */
export interface AuthorizeResult {
  /** False when the request went untouched (its origin is not allowed). */
  readonly applied: boolean;
  /** The token the request carries, if any. */
  readonly token: Token | undefined;
}

/** The parts of a response that decide whether the credential was rejected. */
export interface ResponseView {
  /** HTTP status. */
  status: number;
  /** Response headers; only `get` is needed (for `WWW-Authenticate`). */
  headers: {
    /** The header's value, or null. */
    get(name: string): string | null;
  };
}

/** What an adapter tells {@link AuthStrategy.reject} about the rejected request. */
export interface RejectDetails {
  /** HTTP method of the rejected request. */
  method: string;
  /** Its URL (only origin and path are reported in events). */
  url: URL;
  /** How many times this request was already replayed (0 for the original). */
  replayCount: number;
  /** `true` when the body can be sent again; otherwise why not (e.g. `one-shot stream body`). */
  replayable: true | string;
}

/** Whether the adapter should replay a rejected request once, and why. */
export interface ReplayDecision {
  /** Send the request once more, with a fresh token. */
  replay: boolean;
  /** Why (also in the `rejected` event). */
  reason: ReplayReason;
}

/**
 * The strategy interface: everything an adapter needs, nothing about any HTTP client.
 *
 * Adapter loop: `authorize` → send → if `isRejected(response)` then
 * `reject(used, details)` → if `replay`, `authorize` again and send once more.
 */
export interface AuthStrategy {
  /** Applies the policies to the request view in place; returns which token it used. */
  authorize(request: AuthRequest, options?: AuthorizeOptions): Promise<AuthorizeResult>;
  /** Whether a response means "credential rejected". */
  isRejected(response: ResponseView): boolean;
  /**
   * Invalidates the token the rejected request used (only that token) and says whether
   * to replay. Without `details` it only invalidates (and answers `replay: false`).
   */
  reject(used: AuthorizeResult, details?: RejectDetails): Promise<ReplayDecision>;
}

/** An {@link AuthStrategy} backed by a {@link TokenManager}. */
export interface TokenAuthStrategy extends AuthStrategy {
  /** The token manager, for warming up, sign-out, or tests. */
  readonly tokens: TokenManager;
}

/** When a response counts as a rejected credential. */
export type RejectWhen =
  /** Any 401. Default. */
  | 'unauthorized'
  /** Only a 401 whose `WWW-Authenticate` says `error="invalid_token"` (RFC 6750 §3.1). */
  | 'invalid-token';

/** Options shared by every strategy factory and provider preset. */
export interface StrategyOptions {
  /** Origins that may receive the credential, e.g. `['https://apim.mskcc.org']`. Required. */
  origins: readonly string[];
  /** Extra policies, run in order after the origin check and before the credential is set. */
  policies?: readonly RequestPolicy[];
  /** When a response counts as rejected. Default `'unauthorized'` (any 401). */
  rejectWhen?: RejectWhen;
  /** Where log lines go (`console`, pino, …). Never given a token or secret. Default: none. */
  logger?: Logger;
  /** Event listeners, for metrics and traces. Default: none. */
  on?: AuthEvents;
}

/** Options of {@link createAuthStrategy}. */
export interface CreateAuthStrategyOptions extends StrategyOptions {
  /** Where tokens come from. Required unless `tokens` is given. */
  source?: TokenSource;
  /**
   * An existing token manager to share, instead of `source`: strategies built on the same
   * manager share one token and one single flight (e.g. one MSK client, several protocols).
   * `store`, `refresh` and `retry` belong to the manager and cannot be given with it.
   */
  tokens?: TokenManager;
  /** Sets the credential on the request. Default {@link bearer}. */
  credential?: RequestPolicy;
  /** Where tokens are kept. Default: in memory, per strategy. */
  store?: TokenStore;
  /** When tokens are refreshed (see {@link RefreshOptions}). */
  refresh?: RefreshOptions;
  /** How failed token requests are retried (see {@link RetryOptions}). */
  retry?: RetryOptions;
}

/** The options every provider preset accepts on top of its own. */
export type ProviderOptions = Pick<
  CreateAuthStrategyOptions,
  'refresh' | 'store' | 'retry' | 'logger' | 'on' | 'rejectWhen' | 'policies'
>;

const BEARER_CHALLENGE = /(?:^|,)\s*bearer\b/i;
const INVALID_TOKEN = /\berror\s*=\s*"?invalid_token\b/i;

function makeIsRejected(rejectWhen: RejectWhen | undefined): (response: ResponseView) => boolean {
  if (rejectWhen !== undefined && rejectWhen !== 'unauthorized' && rejectWhen !== 'invalid-token') {
    throw new ConfigError("must be 'unauthorized' or 'invalid-token'", { option: 'rejectWhen' });
  }
  if (rejectWhen === 'invalid-token') {
    return (response) => {
      if (response.status !== 401) return false;
      const challenge = response.headers.get('www-authenticate') ?? '';
      return BEARER_CHALLENGE.test(challenge) && INVALID_TOKEN.test(challenge);
    };
  }
  return (response) => response.status === 401;
}

function validatePolicies(policies: readonly RequestPolicy[] | undefined): readonly RequestPolicy[] {
  if (policies === undefined) return [];
  if (!Array.isArray(policies) || policies.some((p) => typeof p !== 'function')) {
    throw new ConfigError('must be an array of policy functions', { option: 'policies' });
  }
  return policies;
}

/** Internal core of every strategy: origin check, policies, credential, replay decision. */
function buildStrategy(
  options: StrategyOptions,
  credential: RequestPolicy,
  getToken: ((signal: AbortSignal | undefined) => Promise<Token>) | undefined,
  invalidate: ((token: Token) => Promise<void>) | undefined,
): AuthStrategy {
  const allowed = normaliseOrigins(options?.origins);
  const policies = [...validatePolicies(options.policies), credential];
  const isRejected = makeIsRejected(options.rejectWhen);
  const sink = new EventSink(options.on, options.logger);

  return {
    async authorize(request, authorizeOptions = {}) {
      if (!allowed.has(request.url.origin)) return { applied: false, token: undefined };
      const signal = authorizeOptions.signal;
      let used: Token | undefined;
      const context: PolicyContext = {
        signal,
        async token() {
          if (!getToken) throw new ConfigError('this strategy has no token source', { option: 'source' });
          used = await getToken(signal);
          return used;
        },
      };
      for (const policy of policies) {
        if ((await policy(request, context)) === 'skip') return { applied: false, token: undefined };
      }
      return { applied: true, token: used };
    },
    isRejected,
    async reject(used, details) {
      const decide = (replay: boolean, reason: ReplayReason, detail?: string): ReplayDecision => {
        if (details) {
          const url = `${details.url.origin}${details.url.pathname}`;
          sink.emit('rejected', {
            method: details.method,
            url,
            replay,
            reason,
            ...(detail ? { detail } : {}),
          });
          sink.log(
            replay ? 'info' : 'warn',
            `authrail: ${details.method} ${url} was rejected (401); ${replay ? 'replaying once with a fresh token' : `not replayed: ${reason}${detail ? ` (${detail})` : ''}`}`,
          );
        }
        return { replay, reason };
      };
      if (!used.applied) return decide(false, 'no-credential');
      if (!invalidate || !used.token) return decide(false, 'not-refreshable');
      await invalidate(used.token);
      if (!details) return { replay: false, reason: 'replaying' };
      if (details.replayCount > 0) return decide(false, 'already-replayed');
      if (details.replayable !== true) return decide(false, 'body-not-replayable', details.replayable);
      return decide(true, 'replaying');
    },
  };
}

/**
 * Builds an {@link AuthStrategy} from a token source: the one-line setup every
 * provider preset wraps. Requests to `origins` get the policies and a bearer token
 * from a {@link TokenManager}; requests elsewhere are left untouched.
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
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('must be an options object', { option: 'options' });
  }
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
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.on ? { on: options.on } : {}),
    });
  const strategy = buildStrategy(
    options,
    options.credential ?? bearer(),
    (signal) => tokens.getToken(signal ? { signal } : {}),
    (token) => tokens.invalidate(token),
  );
  return { ...strategy, tokens };
}

const PROVIDER_OPTION_KEYS = ['refresh', 'store', 'retry', 'logger', 'on', 'rejectWhen', 'policies'] as const;

/**
 * Picks the options every provider preset passes through to {@link createAuthStrategy}
 * (`refresh`, `store`, `retry`, `logger`, `on`, `rejectWhen`, `policies`), leaving the
 * preset's own (URLs, credentials) behind.
 *
 * @example
 * ```ts
 * createAuthStrategy({ ...pickProviderOptions(options), source, origins });
 * ```
 */
export function pickProviderOptions(options: ProviderOptions): ProviderOptions {
  const picked: Record<string, unknown> = {};
  for (const key of PROVIDER_OPTION_KEYS) if (options[key] !== undefined) picked[key] = options[key];
  return picked as ProviderOptions;
}

/** Options of {@link createStaticTokenStrategy}. */
export interface StaticTokenStrategyOptions extends StrategyOptions {
  /** The token, e.g. a personal access token. */
  token: string;
  /** Default `Bearer`. */
  tokenType?: string;
}

/**
 * A strategy with a fixed bearer token and no token server. A rejection is never
 * replayed: the same token would be rejected again.
 *
 * @example
 * ```ts
 * const strategy = createStaticTokenStrategy({ token: process.env.API_TOKEN!, origins: ['https://api.example.org'] });
 * ```
 */
export function createStaticTokenStrategy(options: StaticTokenStrategyOptions): AuthStrategy {
  if (typeof options?.token !== 'string' || options.token.length === 0) {
    throw new ConfigError('must be a non-empty string', { option: 'token' });
  }
  const token = createToken({
    accessToken: options.token,
    ...(options.tokenType ? { tokenType: options.tokenType } : {}),
  });
  return buildStrategy(options, bearer(), () => Promise.resolve(token), undefined);
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
 * parameter, only to the allowed origins. Rejections are never replayed.
 *
 * @example
 * ```ts
 * createApiKeyStrategy({ key: process.env.KEY!, header: 'Ocp-Apim-Subscription-Key', origins: ['https://apim.example.org'] });
 * ```
 */
export function createApiKeyStrategy(options: ApiKeyStrategyOptions): AuthStrategy {
  if (typeof options?.key !== 'string' || options.key.length === 0) {
    throw new ConfigError('must be a non-empty string', { option: 'key' });
  }
  if (options.header !== undefined && options.query !== undefined) {
    throw new ConfigError('give either header or query, not both', { option: 'query' });
  }
  const { key, query } = options;
  const header = options.header ?? 'X-API-Key';
  const credential: RequestPolicy = (request) => {
    if (query !== undefined) request.url.searchParams.set(query, key);
    else request.headers.set(header, key);
  };
  return buildStrategy(options, credential, undefined, undefined);
}
