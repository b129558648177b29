/**
 * `@authrail/oauth2`: OAuth 2 token sources for authrail, on openid-client — client
 * credentials (`client_secret_post`, `client_secret_basic`, `private_key_jwt`, and
 * RFC 8705's `tls_client_auth` / `self_signed_tls_client_auth` with a certificate-carrying `fetch`),
 * authorization code with PKCE, the device authorization grant, refresh tokens, token
 * exchange (RFC 8693) and the JWT bearer grant (RFC 7523) with assertions read from a file
 * (workload identity). Server metadata is discovered or
 * given directly; `http:` is refused except on loopback. Runs in Node and browsers.
 *
 * @example
 * ```ts
 * import { createAuthStrategy } from '@authrail/core';
 * import { clientCredentials, clientSecretPost } from '@authrail/oauth2';
 *
 * const strategy = createAuthStrategy({
 *   source: clientCredentials({
 *     server: { issuer: 'https://auth.example.org', tokenEndpoint: 'https://auth.example.org/oauth2/token' },
 *     clientId: 'reporting',
 *     clientAuth: clientSecretPost(() => secrets.get('reporting-secret')),
 *     scope: 'reports.read',
 *   }),
 *   origins: ['https://api.example.org'],
 * });
 * ```
 *
 * @packageDocumentation
 */
export {
  clientSecretBasic,
  clientSecretPost,
  none,
  privateKeyJwt,
  selfSignedTlsClientAuth,
  tlsClientAuth,
  clientAssertion,
  type ClientAuthentication,
  type ClientPresetOptions,
  type ClientSecretPresetOptions,
  type PrivateKeyInput,
  type AssertionClaims,
  type AssertionHeader,
  type AssertionSigner,
  type SecretInput,
} from './client-auth.js';
export { clientCredentials, type ClientCredentialsOptions } from './client-credentials.js';
export { jwtBearer, type JwtBearerOptions } from './jwt-bearer.js';
export { assertionFromFile, type AssertionFileOptions, type AssertionInput } from './assertion.js';
export { createTokenExchangeStrategy, type TokenExchangeOptions } from './token-exchange.js';
export {
  authorizationCode,
  type AuthorizationCodeOptions,
  type AuthorizationCodeSource,
  type CallOptions,
} from './authorization-code.js';
export {
  deviceAuthorization,
  type DeviceAuthorizationOptions,
  type DevicePrompt,
} from './device-authorization.js';
export { createMemoryStorage, type FlowStorage } from './storage.js';
export {
  createSignInStrategy,
  type LogoutResult,
  type SignInStrategy,
  type SignInStrategyOptions,
} from './sign-in.js';
export {
  endpointsAt,
  type EndpointPaths,
  type ServerDiscovery,
  type ServerEndpoints,
  type ServerMetadataUrl,
  type ServerOptions,
} from './server.js';
export { grantOptionsOf, clientPresetOptionsOf, type GrantOptions } from './grant.js';
export type { MapError } from './errors.js';
export type { DPoPOption } from './dpop.js';
