/**
 * `@authrail/core`: the token manager, the {@link AuthStrategy} that owns the request
 * loop every adapter hands its requests to, request policies, errors and events. No
 * runtime dependencies; runs in Node, browsers, Bun, Deno and workers.
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
  NotAuthenticatedError,
  RedirectError,
  TokenEndpointError,
  isAuthorizationResponseError,
  isAuthrailError,
  isConfigError,
  isMissingScopeError,
  isNotAuthenticatedError,
  isRedirectError,
  isTokenEndpointError,
  scrubSecrets,
  toTokenEndpointError,
  type AuthorizationResponseErrorDetails,
  type AuthrailErrorOptions,
  type ConfigErrorOptions,
  type EndpointFailure,
  type ErrorCode,
  type RedirectErrorDetails,
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
export type { DPoPProver, FetchTokenOptions, TokenSource, TokenSourceIdentity } from './source.js';
export { createMemoryTokenStore, type SingleFlightOptions, type TokenStore } from './store.js';
export { createTabTokenStore, type TabTokenStoreOptions } from './tab-store.js';
export {
  notice,
  type AuthEvents,
  type ErrorEvent,
  type Logger,
  type RejectedEvent,
  type UncredentialedEvent,
  type ReplayReason,
  type RetryEvent,
  type TokenFetchReason,
  type TokenFetchedEvent,
  type TokenRefreshedEvent,
} from './events.js';
export {
  bearer,
  queryParamScope,
  type PolicyContext,
  type PolicyResult,
  type QueryParamScopeOptions,
  type RequestPolicy,
} from './policies/index.js';
export {
  createTokenManager,
  type GetTokenOptions,
  type RefreshOptions,
  type RetryOptions,
  type TokenManager,
  type TokenManagerOptions,
} from './token-manager.js';
export {
  isStreamBody,
  runtimeFollowsRedirects,
  withoutAddedQuery,
  type AuthRequest,
  type AuthResponse,
  type RedirectMode,
  type SendOptions,
  type Transport,
} from './transport.js';
export { checkOptions } from './options.js';
export {
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  presetOptionsOf,
  type ApiKeyStrategyOptions,
  type AuthStrategy,
  type CreateAuthStrategyOptions,
  type PresetOptions,
  type RejectWhen,
  type StaticTokenStrategyOptions,
  type StrategyOptions,
  type TokenAuthStrategy,
  type TokenOptions,
} from './strategy.js';
