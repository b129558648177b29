import {
  AuthrailError,
  ConfigError,
  ErrorCodes,
  createAuthStrategy,
  createMemoryTokenStore,
  isAuthrailError,
  pickProviderOptions,
  tokenStoreKey,
  type ProviderOptions,
  type Token,
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
  /** Whether a token is held (it may still be refreshed or rejected later). Never sends a request. */
  isSignedIn(): Promise<boolean>;
  /**
   * Forgets the tokens and any pending sign-in, then revokes the refresh and access
   * tokens at the revocation endpoint (RFC 7009). Best effort: a failed revocation does
   * not throw; it is logged (`logger.warn`) and returned in {@link LogoutResult.errors}.
   * An expired token is not refreshed first.
   */
  logout(): Promise<LogoutResult>;
}

/** What {@link MedblocksAuthorizationCodeStrategy.logout} did. */
export interface LogoutResult {
  /** The token types the server accepted for revocation. Empty when no token was held. */
  revoked: ('access_token' | 'refresh_token')[];
  /** Revocations that failed (typed, secrets scrubbed); the tokens were forgotten locally all the same. */
  errors: AuthrailError[];
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
  // Keep a handle on the store so sign-in checks and logout can look at the held token
  // without the token manager refreshing it.
  const store = options.store ?? createMemoryTokenStore();
  const strategy = createAuthStrategy({
    ...pickProviderOptions(options),
    store,
    source,
    origins: options.origins ?? [origin],
    policies: [fhirJson(`${root}/fhir`), ...(options.policies ?? [])],
  });
  const storeKey = tokenStoreKey(source.identity);
  async function heldToken(): Promise<Token | undefined> {
    return store.get(await storeKey);
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
      const token = await heldToken();
      await strategy.tokens.clear();
      await source.clearPending();
      const result: LogoutResult = { revoked: [], errors: [] };
      if (!token) return result;
      const targets: [string, 'access_token' | 'refresh_token'][] = [
        ...(token.refreshToken ? [[token.refreshToken, 'refresh_token'] as [string, 'refresh_token']] : []),
        [token.accessToken, 'access_token'],
      ];
      await Promise.all(
        targets.map(async ([value, hint]) => {
          try {
            await source.revoke(value, hint);
            result.revoked.push(hint);
          } catch (error) {
            const typed = isAuthrailError(error)
              ? error
              : new AuthrailError(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, 'token revocation failed', {
                  cause: error,
                  secrets: [value],
                });
            result.errors.push(typed);
            options.logger?.warn?.(
              `authrail: revoking the ${hint} at sign-out failed (${typed.code}); it was forgotten locally`,
            );
          }
        }),
      );
      return result;
    },
  };
}
