import {
  AuthrailError,
  ConfigError,
  ErrorCodes,
  createAuthStrategy,
  pickProviderOptions,
  type ProviderOptions,
  type TokenAuthStrategy,
} from '@authrail/core';
import { authorizationCode, type FlowStorage } from '@authrail/oauth2';
import { fhirJson } from './client-credentials.js';
import { medblocksBase } from './common.js';

/** Options of {@link medblocksAuthorizationCode}. */
export interface MedblocksAuthorizationCodeOptions extends ProviderOptions {
  /** The Medblocks base URL: `{baseUrl}/oauth2/…` and `{baseUrl}/fhir`. */
  baseUrl: string;
  /** The public client id registered for the app. */
  clientId: string;
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
  /** Origins that receive the token. Default: the origin of `baseUrl`. */
  origins?: readonly string[];
  /** A `fetch` for token requests. */
  fetch?: typeof fetch;
  /** Token request timeout in ms. Default 30 000. */
  timeoutMs?: number;
}

/** The strategy {@link medblocksAuthorizationCode} returns: usable with every adapter, plus the sign-in flow. */
export interface MedblocksAuthorizationCodeStrategy extends TokenAuthStrategy {
  /** Creates and stores the PKCE S256 verifier and state; returns the authorize URL. */
  authorizationUrl(): Promise<URL>;
  /** Browser: navigates to {@link authorizationUrl}. */
  login(): Promise<void>;
  /**
   * On the redirect URI: checks state, exchanges the code, stores the token. Wrong or
   * missing state, and error responses (`access_denied`), reject with `AuthorizationResponseError`.
   */
  handleRedirect(url: string | URL): Promise<void>;
  /** Whether a token is held (it may still be refreshed or rejected later). */
  isSignedIn(): Promise<boolean>;
  /** Revokes the refresh and access tokens (best effort; failures go to the `error` event) and forgets them. */
  logout(): Promise<void>;
}

/**
 * Medblocks authorization code + PKCE for browser apps (a public client). When the
 * access token expires, the refresh token is used (rotated refresh tokens are followed);
 * requests made before sign-in fail with `AUTHRAIL_NOT_AUTHENTICATED`.
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
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
  const { root, origin } = medblocksBase(options.baseUrl);
  const path = (value: string | undefined, fallback: string, option: string) => {
    const p = value ?? fallback;
    if (typeof p !== 'string' || !p.startsWith('/'))
      throw new ConfigError('must be a path starting with /', { option });
    return p;
  };
  const source = authorizationCode({
    server: {
      issuer: root,
      tokenEndpoint: `${root}/oauth2/token`,
      authorizationEndpoint: `${root}${path(options.authorizePath, '/oauth2/auth', 'authorizePath')}`,
      revocationEndpoint: `${root}${path(options.revocationPath, '/oauth2/revoke', 'revocationPath')}`,
    },
    clientId: options.clientId,
    redirectUri: options.redirectUri,
    scope: options.scope ?? 'openid offline_access user/*.read',
    ...(options.storage ? { storage: options.storage } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    storageKey: 'authrail:medblocks:',
  });
  const strategy = createAuthStrategy({
    ...pickProviderOptions(options),
    source,
    origins: options.origins ?? [origin],
    policies: [fhirJson(`${root}/fhir`), ...(options.policies ?? [])],
  });

  async function heldToken() {
    try {
      return await strategy.tokens.getToken();
    } catch (error) {
      if (error instanceof AuthrailError && error.code === ErrorCodes.NOT_AUTHENTICATED) return undefined;
      throw error;
    }
  }

  return {
    ...strategy,
    authorizationUrl: () => source.authorizationUrl(),
    async login() {
      const location = (globalThis as { location?: { assign(url: string): void } }).location;
      if (typeof location?.assign !== 'function') {
        throw new ConfigError(
          'login() navigates a browser; elsewhere call authorizationUrl() and open it yourself',
          { option: 'login' },
        );
      }
      location.assign((await source.authorizationUrl()).href);
    },
    async handleRedirect(url) {
      await strategy.tokens.setToken(await source.handleRedirect(url));
    },
    async isSignedIn() {
      return (await heldToken()) !== undefined;
    },
    async logout() {
      const token = await heldToken().catch(() => undefined);
      await strategy.tokens.clear();
      await source.clearPending();
      if (!token) return;
      const revocations = [
        ...(token.refreshToken ? [source.revoke(token.refreshToken, 'refresh_token')] : []),
        source.revoke(token.accessToken, 'access_token'),
      ];
      const results = await Promise.allSettled(revocations);
      for (const result of results) {
        if (result.status === 'rejected') {
          options.logger?.warn?.(
            'authrail: token revocation at sign-out failed; the tokens were forgotten locally',
          );
        }
      }
    },
  };
}
