import {
  AuthrailError,
  ConfigError,
  ErrorCodes,
  createAuthStrategy,
  createTabTokenStore,
  isAuthrailError,
  type TokenAuthStrategy,
} from '@authrail/core';
import {
  authorizationCode,
  type CallOptions,
  type ClientPresetOptions,
  type FlowStorage,
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
   * tokens held at the revocation endpoint (RFC 7009), as they are: an expired token is
   * not refreshed first, and a token endpoint that is down does not matter. Best effort:
   * a failed revocation does not throw; it goes to the `error` event (`phase:
   * 'sign-out'`) and `logger.warn`, and is returned in {@link LogoutResult.errors}.
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
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
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
    fetch: options.fetch,
    maxResponseBytes: options.maxResponseBytes,
    dpop: options.dpop,
    storageKey: 'authrail:medblocks:',
    session: options.session,
  });
  // In a browser page, the tabs of the app share the user's token and refresh it once.
  const inPage = typeof (globalThis as { document?: unknown }).document === 'object';
  const store =
    options.store ??
    (inPage ? createTabTokenStore({ name: `authrail:medblocks:${options.clientId}` }) : undefined);
  const strategy = createAuthStrategy({
    ...options,
    ...(store ? { store } : {}),
    source,
    origins: options.origins ?? [new URL(server.issuer).origin],
    // concat, not spread: a non-array `policies` reaches core's check and its ConfigError.
    policies: [fhirJson(`${server.issuer}/fhir`)].concat(options.policies ?? []),
  });
  const { tokens } = strategy;
  // Calls the token manager does not make are bounded by the same one timeout.
  const attemptTimeoutMs = options.retry?.attemptTimeoutMs;
  const call = (): CallOptions =>
    attemptTimeoutMs === undefined ? {} : { signal: AbortSignal.timeout(attemptTimeoutMs) };
  // A failed revocation is said where every other failure is: the error event and the log.
  // Listeners and loggers that throw are ignored, as core's own events do.
  const report = (error: AuthrailError, hint: string) => {
    try {
      options.on?.error?.({ error, phase: 'sign-out' });
    } catch {
      // a broken listener must not break sign-out
    }
    try {
      options.logger?.warn?.(
        `authrail: revoking the ${hint} at sign-out failed (${error.code}); it was forgotten locally`,
      );
    } catch {
      // nor a broken logger
    }
  };
  return {
    send: strategy.send,
    tokens,
    authorizationUrl: () => source.authorizationUrl({}, call()),
    async login() {
      const location = (globalThis as { location?: { assign(url: string): void } }).location;
      if (typeof location?.assign !== 'function') {
        // Not an option problem (ConfigError is for those): sign-in cannot start here.
        throw new AuthrailError(
          ErrorCodes.NOT_AUTHENTICATED,
          'login() navigates a browser; elsewhere call authorizationUrl() and open it yourself',
        );
      }
      location.assign((await source.authorizationUrl({}, call())).href);
    },
    async handleRedirect(url) {
      await tokens.setToken(await source.handleRedirect(url, call()));
    },
    async isSignedIn() {
      return (await tokens.peek()) !== undefined;
    },
    async logout() {
      const token = await tokens.peek();
      await tokens.clear();
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
            await source.revoke(value, hint, call());
            result.revoked.push(hint);
          } catch (error) {
            const typed = isAuthrailError(error)
              ? error
              : new AuthrailError(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, 'token revocation failed', {
                  cause: error,
                  secrets: [value],
                });
            result.errors.push(typed);
            report(typed, hint);
          }
        }),
      );
      return result;
    },
  };
}
