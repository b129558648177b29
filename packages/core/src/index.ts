/**
 * `@authrail/core`: the token manager, the {@link AuthStrategy} interface every
 * adapter consumes, request policies, errors and events. No runtime dependencies;
 * runs in Node and browsers.
 *
 * @example
 * ```ts
 * import { createAuthStrategy, queryParamScope } from '@authrail/core';
 *
 * const strategy = createAuthStrategy({
 *   source,                                   // a TokenSource, e.g. from @authrail/oauth2
 *   origins: ['https://apim.mskcc.org'],
 *   policies: [queryParamScope({ param: 'researchstudy', value: '17-001', required: true })],
 * });
 * ```
 *
 * @packageDocumentation
 */
export {
  AuthorizationResponseError,
  AuthrailError,
  ConfigError,
  ErrorCodes,
  MissingScopeError,
  REDACTED,
  TokenEndpointError,
  isAuthorizationResponseError,
  isAuthrailError,
  isConfigError,
  isMissingScopeError,
  isTokenEndpointError,
  scrubError,
  scrubSecrets,
  type AuthorizationResponseErrorDetails,
  type AuthrailErrorOptions,
  type ConfigErrorOptions,
  type ErrorCode,
  type TokenEndpointErrorDetails,
} from './errors.js';
export {
  createToken,
  toTokenRecord,
  tokenInfo,
  type Token,
  type TokenInfo,
  type TokenInit,
  type TokenRecord,
} from './token.js';
export type { FetchTokenOptions, TokenSource, TokenSourceIdentity } from './source.js';
export { createMemoryTokenStore, tokenStoreKey, type TokenStore } from './store.js';
export type {
  AuthEvents,
  ErrorEvent,
  Logger,
  RejectedEvent,
  ReplayReason,
  RetryEvent,
  TokenFetchReason,
  TokenFetchedEvent,
  TokenRefreshedEvent,
} from './events.js';
export {
  bearer,
  normaliseOrigins,
  originAllowlist,
  queryParamScope,
  type AuthRequest,
  type PolicyContext,
  type PolicyResult,
  type QueryParamScopeOptions,
  type RequestPolicy,
} from './policies/index.js';
export {
  DEFAULT_REFRESH,
  DEFAULT_RETRY,
  backoffDelay,
  classifyToken,
  createTokenManager,
  type GetTokenOptions,
  type RefreshOptions,
  type RetryOptions,
  type TokenManager,
  type TokenManagerOptions,
  type TokenState,
} from './token-manager.js';
export {
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  pickProviderOptions,
  type ApiKeyStrategyOptions,
  type AuthStrategy,
  type AuthorizeOptions,
  type AuthorizeResult,
  type CreateAuthStrategyOptions,
  type ProviderOptions,
  type RejectDetails,
  type RejectWhen,
  type ReplayDecision,
  type ResponseView,
  type StaticTokenStrategyOptions,
  type StrategyOptions,
  type TokenAuthStrategy,
} from './strategy.js';
