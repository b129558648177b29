/**
 * The {@link TokenSource} interface: one grant against one authorization server.
 *
 * @module
 */
import type { Token } from './token.js';

/** Options for one {@link TokenSource.fetchToken} call. */
export interface FetchTokenOptions {
  /** Aborts the token request. The token manager passes its own per-attempt signal here. */
  signal?: AbortSignal;
  /** A refresh token to use instead of the source's primary grant, when the previous token had one. */
  refreshToken?: string;
  /**
   * The token manager's clock, in epoch ms: stamp the token with it
   * (`createToken(init, now())`), so a manager run on a test clock refreshes by that clock.
   * Absent when the source is called directly: then `Date.now`.
   */
  now?: () => number;
}

/**
 * Identifies what a source's tokens are for: everything that makes two tokens
 * different. Used to derive the {@link TokenStore} key, so two sources share a token
 * only when endpoint, client, scope, every other grant parameter and (for user flows)
 * the session are the same. Never a secret.
 */
export interface TokenSourceIdentity {
  /** The token endpoint URL. */
  tokenEndpoint: string;
  /** The OAuth client id. */
  clientId: string;
  /** The requested scope, space separated. */
  scope?: string;
  /**
   * Every other token request parameter that changes what the token is for: RFC 8707
   * `resource`, `audience`, a tenant. Order does not matter.
   */
  parameters?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * The tokens act for a user (an authorization code flow), not for the client: each
   * user's tokens need their own key, so a store passed in (shared) needs `session`.
   */
  actsForUser?: boolean;
  /** Whose tokens these are, for user flows: the app's session (or user) id. */
  session?: string;
}

/**
 * Proof of possession for DPoP-bound tokens (RFC 9449): signs a proof JWT with the key
 * the tokens are bound to. A {@link TokenSource} that asks for DPoP-bound tokens has one
 * (`@authrail/oauth2` builds it on openid-client with `dpop: true`); core's request loop
 * uses it for every hop that carries a `DPoP` token.
 */
export interface DPoPProver {
  /**
   * Sets the `DPoP` header of one request: a new proof with `htm` (the method), `htu`
   * (the URL without query or fragment), `iat`, a fresh `jti`, `ath` (the hash of
   * `accessToken`) and the origin's last nonce.
   */
  addProof(url: URL, headers: Headers, method: string, accessToken: string): Promise<void>;
  /** Remembers the `DPoP-Nonce` a response of this URL's origin carried, if any. */
  cacheNonce(response: { readonly headers: { get(name: string): string | null } }, url: URL): void;
}

/**
 * Obtains tokens. `@authrail/oauth2` builds these for every grant; presets configure
 * them. Implement it yourself for anything else (a signed assertion, a sidecar, a CLI).
 * A source does one attempt per call: retries, caching and single flight belong to the
 * token manager.
 *
 * @example
 * ```ts
 * const source: TokenSource = {
 *   identity: { tokenEndpoint: 'https://auth.example/token', clientId: 'svc' },
 *   async fetchToken({ signal }) {
 *     const res = await fetch('https://auth.example/token', { method: 'POST', signal });
 *     const body = await res.json();
 *     return createToken({ accessToken: body.access_token, expiresIn: body.expires_in });
 *   },
 * };
 * ```
 */
export interface TokenSource {
  /** What the tokens are for; keys the token store. */
  readonly identity: TokenSourceIdentity;
  /**
   * Requests one new token. Must reject with a `TokenEndpointError` on failure so the
   * manager can tell transient failures from permanent ones.
   */
  fetchToken(options: FetchTokenOptions): Promise<Token>;
  /**
   * Present when the source asks for DPoP-bound tokens: the prover of the key they are
   * bound to. Its tokens have the type `DPoP`, and every request carrying one gets a proof.
   */
  readonly dpop?: DPoPProver;
  /**
   * The primary grant waits for a person: a user approves the sign-in elsewhere (the device
   * authorization grant, RFC 8628), which may take minutes. The token manager then gives a
   * primary-grant attempt up to one hour instead of
   * `retry.attemptTimeoutMs` (the source keeps its own, shorter deadline), makes one attempt
   * only (a retry would ask the user again), and never starts one from a refresh ahead of
   * expiry that nobody waits for. Refresh-token requests are ordinary attempts.
   */
  readonly interactive?: boolean;
}
