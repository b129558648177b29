import * as client from 'openid-client';
import {
  AuthorizationResponseError,
  AuthrailError,
  ConfigError,
  ErrorCodes,
  TokenEndpointError,
  type Token,
  type TokenSource,
} from '@authrail/core';
import { checkClientAuth, none, type ClientAuthentication } from './client-auth.js';
import { checkClientId, runGrant, tokenFrom, type GrantOptions } from './grant.js';
import { checkHttp } from './http.js';
import { resolveServer, secureUrl, type ServerOptions } from './server.js';
import { defaultStorage, type FlowStorage } from './storage.js';

/** Options of {@link authorizationCode}. */
export interface AuthorizationCodeOptions extends GrantOptions {
  /** The server; its metadata must have an authorization endpoint. */
  server: ServerOptions;
  /** The OAuth client id. */
  clientId: string;
  /** Where the authorization server sends the browser back to. Must be registered. */
  redirectUri: string;
  /** Requested scope. Ask for `offline_access` to get a refresh token where the server needs it. */
  scope?: string;
  /** Default `none()` (a public client with PKCE); confidential web apps pass a secret. */
  clientAuth?: ClientAuthentication;
  /** Where the pending PKCE verifier and state are kept. Default `sessionStorage` in browsers, memory otherwise. */
  storage?: FlowStorage;
  /** Key prefix in `storage`. Default `authrail:`. */
  storageKey?: string;
}

/** A {@link TokenSource} for the authorization code flow with PKCE. */
export interface AuthorizationCodeSource extends TokenSource {
  /**
   * Creates a PKCE S256 verifier and a `state`, stores them, and returns the URL to send
   * the browser to. PKCE and state are always on.
   */
  authorizationUrl(parameters?: Record<string, string>, options?: CallOptions): Promise<URL>;
  /**
   * Takes the URL the browser came back to: checks `state`, turns an `error` into an
   * {@link AuthorizationResponseError}, exchanges the code (with the verifier) and
   * returns the token. The pending state is removed either way.
   */
  handleRedirect(url: string | URL, options?: CallOptions): Promise<Token>;
  /**
   * Revokes a token at the revocation endpoint (RFC 7009), if the server has one; does
   * nothing otherwise. Failures reject with a `TokenEndpointError` (the token scrubbed).
   */
  revoke(token: string, hint?: 'access_token' | 'refresh_token', options?: CallOptions): Promise<void>;
  /** Drops any pending authorization. */
  clearPending(): Promise<void>;
}

/**
 * Options of the calls the token manager does not make (the code exchange, revocation,
 * discovery for the authorize URL).
 */
export interface CallOptions {
  /**
   * Ends the call. Pass one bounded by your strategy's `retry.attemptTimeoutMs` (the
   * Medblocks preset does); without it the call is bounded at 30 s.
   */
  signal?: AbortSignal;
}

/** The bound of a call made without a signal: the token manager's default attempt timeout. */
const UNSIGNALLED_TIMEOUT_MS = 30_000;

interface Pending {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  createdAt: number;
}

/**
 * The authorization code grant with PKCE (S256) and state, for browser apps and
 * other public clients. Refresh (`fetchToken({ refreshToken })`) keeps the old refresh
 * token when the server returns none and uses the new one when it rotates.
 *
 * @example
 * ```ts
 * const source = authorizationCode({ server: { issuer, discovery: true }, clientId: 'spa', redirectUri: location.origin + '/' });
 * location.assign(await source.authorizationUrl());
 * // … back on redirectUri:
 * const token = await source.handleRedirect(location.href);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export function authorizationCode(options: AuthorizationCodeOptions): AuthorizationCodeSource {
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
  const server = resolveServer(options.server);
  const clientId = checkClientId(options.clientId);
  const redirectUri = secureUrl(options.redirectUri, 'redirectUri').href;
  const auth = options.clientAuth === undefined ? none() : checkClientAuth(options.clientAuth);
  if (!('discovery' in options.server) && !options.server.authorizationEndpoint) {
    throw new ConfigError('must be given for the authorization code flow', {
      option: 'server.authorizationEndpoint',
    });
  }
  const bounded = (call: CallOptions | undefined) =>
    call?.signal ?? AbortSignal.timeout(UNSIGNALLED_TIMEOUT_MS);
  const storage = options.storage ?? defaultStorage();
  if (
    typeof storage?.getItem !== 'function' ||
    typeof storage.setItem !== 'function' ||
    typeof storage.removeItem !== 'function'
  ) {
    throw new ConfigError('must have getItem, setItem and removeItem', { option: 'storage' });
  }
  const key = `${options.storageKey ?? 'authrail:'}pending:${clientId}`;
  const http = checkHttp(options);

  async function readPending(): Promise<Pending | undefined> {
    const raw = await storage.getItem(key);
    if (!raw) return undefined;
    try {
      const value = JSON.parse(raw) as Partial<Pending> | null;
      const ok =
        typeof value?.state === 'string' &&
        typeof value.codeVerifier === 'string' &&
        typeof value.redirectUri === 'string';
      return ok ? (value as Pending) : undefined; // anything else is not ours: treated as none pending
    } catch {
      return undefined;
    }
  }

  return {
    identity: {
      tokenEndpoint: server.tokenEndpointHint,
      clientId,
      ...(options.scope ? { scope: options.scope } : {}),
    },

    async authorizationUrl(parameters = {}, call) {
      const metadata = await server.metadata(http, bounded(call));
      if (!metadata.authorization_endpoint) {
        throw new TokenEndpointError(
          ErrorCodes.TOKEN_RESPONSE_INVALID,
          `the discovery document of ${server.issuer.href} has no authorization_endpoint`,
          { endpoint: server.issuer.href },
        );
      }
      const pending: Pending = {
        state: client.randomState(),
        codeVerifier: client.randomPKCECodeVerifier(),
        redirectUri,
        createdAt: Date.now(),
      };
      await storage.setItem(key, JSON.stringify(pending));
      const config = new client.Configuration(metadata, clientId);
      if (server.insecure) client.allowInsecureRequests(config);
      return client.buildAuthorizationUrl(config, {
        ...parameters,
        redirect_uri: redirectUri,
        response_type: 'code',
        ...(options.scope ? { scope: options.scope } : {}),
        state: pending.state,
        code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
      });
    },

    async handleRedirect(url, call) {
      const current = new URL(String(url));
      const pending = await readPending();
      await storage.removeItem(key);
      const params = current.searchParams;
      const secrets = [params.get('code') ?? undefined, pending?.codeVerifier].filter(
        (s): s is string => !!s,
      );
      if (!pending) {
        throw new AuthorizationResponseError(
          'no authorization is pending: call authorizationUrl() (or login()) first',
          { error: 'no_pending_authorization', secrets },
        );
      }
      if (params.get('state') !== pending.state) {
        throw new AuthorizationResponseError(
          'the state in the redirect does not match the one sent: the response is not for this sign-in',
          { error: 'state_mismatch', secrets },
        );
      }
      const error = params.get('error');
      if (error) {
        const description = params.get('error_description') ?? undefined;
        throw new AuthorizationResponseError(
          `the authorization server answered ${error}${description ? `: ${description}` : ''}`,
          {
            error,
            ...(description ? { errorDescription: description } : {}),
            secrets,
          },
        );
      }
      if (!params.get('code')) {
        throw new AuthorizationResponseError('the redirect carries no code', {
          error: 'missing_code',
          secrets,
        });
      }
      // openid-client derives redirect_uri from the URL it is given: rebuild it on the
      // registered URI so a trailing path or hash on the current page cannot change it.
      const callback = new URL(pending.redirectUri);
      for (const [k, v] of params) callback.searchParams.append(k, v);
      const response = await runGrant(
        server,
        clientId,
        auth,
        http,
        { signal: bounded(call), extraSecrets: secrets },
        (config) =>
          client.authorizationCodeGrant(config, callback, {
            pkceCodeVerifier: pending.codeVerifier,
            expectedState: pending.state,
          }),
      );
      return tokenFrom(response);
    },

    async fetchToken({ signal, refreshToken }) {
      if (!refreshToken) {
        throw new AuthrailError(
          ErrorCodes.NOT_AUTHENTICATED,
          'not signed in (or the session ended): sign in again with the authorization code flow',
        );
      }
      const response = await runGrant(
        server,
        clientId,
        auth,
        http,
        { ...(signal ? { signal } : {}), extraSecrets: [refreshToken] },
        (config) => client.refreshTokenGrant(config, refreshToken),
      );
      return tokenFrom(response, refreshToken);
    },

    async revoke(token, hint, call) {
      const signal = bounded(call);
      const metadata = await server.metadata(http, signal);
      if (!metadata.revocation_endpoint) return;
      await runGrant(
        server,
        clientId,
        auth,
        http,
        {
          signal,
          extraSecrets: [token],
          what: 'revocation endpoint',
          endpointField: 'revocation_endpoint',
        },
        (config) => client.tokenRevocation(config, token, hint ? { token_type_hint: hint } : {}),
      );
    },

    async clearPending() {
      await storage.removeItem(key);
    },
  };
}
