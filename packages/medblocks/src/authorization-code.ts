import {
  clientPresetOptionsOf,
  authorizationCode,
  createSignInStrategy,
  type ClientPresetOptions,
  type FlowStorage,
  type SignInStrategy,
} from '@authrail/oauth2';
import { fhirJson } from './client-credentials.js';
import { medblocksServer } from './common.js';

/** Options of {@link medblocksAuthorizationCode}. */
export interface MedblocksAuthorizationCodeOptions extends ClientPresetOptions {
  /** The Medblocks base URL: `{baseUrl}/oauth2/…` and `{baseUrl}/fhir`. */
  baseUrl: string;
  /** Where Medblocks sends the browser back to (registered with the client). */
  redirectUri: string;
  /** Path of the authorize endpoint: `/oauth2/auth` (default) or `/oauth2/authorize`, as Medblocks' docs name both. */
  authorizePath?: string;
  /** Path of the revocation endpoint. Default `/oauth2/revoke`. */
  revocationPath?: string;
  /** Requested scope. Default `openid offline_access user/*.read` (offline_access for a refresh token). */
  scope?: string;
  /** Where the pending PKCE verifier and state are kept. Default `sessionStorage` in browsers, memory otherwise. */
  storage?: FlowStorage;
  /**
   * Whose tokens these are: your app's session (or user) id. Part of the token store
   * key, so users sharing a store never get each other's tokens; required with `store`.
   */
  session?: string;
}

/** The strategy {@link medblocksAuthorizationCode} returns: usable with every adapter, plus the sign-in flow. */
export type MedblocksAuthorizationCodeStrategy = SignInStrategy;

/**
 * Medblocks authorization code + PKCE for browser apps (a public client). When the
 * access token expires, the refresh token is used (rotated refresh tokens are followed);
 * requests made before sign-in fail with `AUTHRAIL_NOT_AUTHENTICATED`. In a browser page
 * the app's tabs share the token through `createTabTokenStore` (unless `store` is
 * given): a tab opened later is signed in, a refresh happens in one tab, and signing out
 * in one tab signs out all.
 *
 * @example
 * ```ts
 * const auth = medblocksAuthorizationCode({ baseUrl, clientId: 'my-spa', redirectUri: location.origin + '/' });
 * if (new URL(location.href).searchParams.has('code')) await auth.handleRedirect(location.href);
 * else if (!(await auth.isSignedIn())) await auth.login();
 * const api = createAuthFetch(auth);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export function medblocksAuthorizationCode(
  options: MedblocksAuthorizationCodeOptions,
): MedblocksAuthorizationCodeStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, [
    'baseUrl',
    'redirectUri',
    'authorizePath',
    'revocationPath',
    'scope',
    'storage',
    'session',
  ]);
  const server = medblocksServer(options.baseUrl, {
    authorization: options.authorizePath ?? '/oauth2/auth',
    revocation: options.revocationPath ?? '/oauth2/revoke',
  });
  const source = authorizationCode({
    server,
    clientId: options.clientId,
    redirectUri: options.redirectUri,
    scope: options.scope ?? 'openid offline_access user/*.read',
    ...(options.storage ? { storage: options.storage } : {}),
    ...grant,
    storageKey: 'authrail:medblocks:',
    session: options.session,
  });
  return createSignInStrategy({
    source,
    strategy: {
      ...preset,
      origins: preset.origins ?? [new URL(server.issuer).origin],
      // concat, not spread: a non-array `policies` reaches core's check and its ConfigError.
      policies: [fhirJson(`${server.issuer}/fhir`)].concat(options.policies ?? []),
    },
    tabChannel: `authrail:medblocks:${options.clientId}`,
  });
}
