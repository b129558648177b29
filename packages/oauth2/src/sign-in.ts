import type { AuthrailError } from '@authrail/core';
import {
  ConfigError,
  NotAuthenticatedError,
  checkOptions,
  createAuthStrategy,
  createTabTokenStore,
  toTokenEndpointError,
  type CreateAuthStrategyOptions,
  type TokenAuthStrategy,
} from '@authrail/core';
import type { AuthorizationCodeSource, CallOptions } from './authorization-code.js';

/** What {@link SignInStrategy.logout} did. */
export interface LogoutResult {
  /** The token types the server accepted for revocation. Empty when no token was held. */
  revoked: ('access_token' | 'refresh_token')[];
  /** Revocations that failed (typed, secrets scrubbed); the tokens were forgotten locally all the same. */
  errors: AuthrailError[];
}

/** A strategy on the authorization code flow: usable with every adapter, plus the sign-in flow. */
export interface SignInStrategy extends TokenAuthStrategy {
  /**
   * Creates and stores the PKCE S256 verifier and state; returns the authorize URL, with
   * these extra parameters if given (SMART's `aud` and `launch`; `scope` widens the
   * configured one).
   */
  authorizationUrl(parameters?: Record<string, string>): Promise<URL>;
  /** Browser: navigates to {@link authorizationUrl} (with the same extra parameters). */
  login(parameters?: Record<string, string>): Promise<void>;
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

/** Options of {@link createSignInStrategy}. */
export interface SignInStrategyOptions {
  /** The authorization code source the sign-in runs on. */
  source: AuthorizationCodeSource;
  /** Core's options for the strategy (origins, policies, store, refresh, retry, logger, on). */
  strategy: Omit<CreateAuthStrategyOptions, 'source' | 'tokens'>;
  /** Names the channel the app's tabs share the token on (in browser pages), e.g. `authrail:medblocks:my-spa`. */
  tabChannel: string;
}

/**
 * The browser sign-in around an authorization code source: the strategy (in a browser
 * page the app's tabs share the user's token through `createTabTokenStore` unless a
 * `store` is given: a tab opened later is signed in, a refresh happens in one tab, and
 * signing out in one tab signs out all), `login()`, `handleRedirect()`, `isSignedIn()`
 * and `logout()` with revocation. Presets for sign-in flows (Medblocks, SMART App Launch)
 * are built on it.
 *
 * @example
 * ```ts
 * const source = authorizationCode({ server, clientId: 'my-spa', redirectUri: location.origin + '/' });
 * const auth = createSignInStrategy({ source, strategy: { origins: ['https://api.example.org'] }, tabChannel: 'authrail:my-spa' });
 * ```
 */
export function createSignInStrategy(options: SignInStrategyOptions): SignInStrategy {
  checkOptions(options, ['source', 'strategy', 'tabChannel']);
  if (typeof options.strategy !== 'object' || options.strategy === null)
    throw new ConfigError("must be core's options for the strategy (origins, policies, store, …)", {
      option: 'strategy',
    });
  const { source, strategy: strategyOptions, tabChannel } = options;
  const inPage = typeof (globalThis as { document?: unknown }).document === 'object';
  const store = strategyOptions.store ?? (inPage ? createTabTokenStore({ name: tabChannel }) : undefined);
  const strategy = createAuthStrategy({ ...strategyOptions, ...(store ? { store } : {}), source });
  const { tokens } = strategy;
  // Calls the token manager does not make are bounded by the same one timeout.
  const attemptTimeoutMs = strategyOptions.retry?.attemptTimeoutMs;
  const call = (): CallOptions =>
    attemptTimeoutMs === undefined ? {} : { signal: AbortSignal.timeout(attemptTimeoutMs) };
  const authorizationUrl = (parameters: Record<string, string> = {}) =>
    source.authorizationUrl(parameters, call());
  return {
    send: strategy.send,
    tokens,
    authorizationUrl,
    async login(parameters) {
      const location = (globalThis as { location?: { assign(url: string): void } }).location;
      if (typeof location?.assign !== 'function') {
        // Not an option problem (ConfigError is for those): sign-in cannot start here.
        throw new NotAuthenticatedError(
          'login() navigates a browser; elsewhere call authorizationUrl() and open it yourself',
        );
      }
      location.assign((await authorizationUrl(parameters)).href);
    },
    async handleRedirect(url) {
      await tokens.setToken(await source.handleRedirect(url, call()));
    },
    async isSignedIn() {
      return (await tokens.peek()) !== undefined;
    },
    logout: () => signOut(source, tokens, strategyOptions, call),
  };
}

/** {@link SignInStrategy.logout}: forgets the tokens and pending sign-ins, then revokes what was held. */
async function signOut(
  source: AuthorizationCodeSource,
  tokens: TokenAuthStrategy['tokens'],
  strategyOptions: SignInStrategyOptions['strategy'],
  call: () => CallOptions,
): Promise<LogoutResult> {
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
        const typed = toTokenEndpointError(error, {
          endpoint: source.identity.tokenEndpoint,
          what: 'revocation endpoint',
          secrets: [value],
        });
        result.errors.push(typed);
        reportRevocationFailure(strategyOptions, typed, hint);
      }
    }),
  );
  return result;
}

/**
 * A failed revocation is said where every other failure is: the error event and the log.
 * Listeners and loggers that throw are ignored, as core's own events do.
 */
function reportRevocationFailure(
  strategyOptions: SignInStrategyOptions['strategy'],
  error: AuthrailError,
  hint: string,
): void {
  try {
    strategyOptions.on?.error?.({ error, phase: 'sign-out' });
  } catch {
    // a broken listener must not break sign-out
  }
  try {
    if (strategyOptions.logger)
      strategyOptions.logger.warn?.(
        `authrail: revoking the ${hint} at sign-out failed (${error.code}); it was forgotten locally`,
      );
  } catch {
    // nor a broken logger
  }
}
