import type { DPoPProver } from '../source.js';
import type { Token } from '../token.js';
import type { AuthRequest } from '../transport.js';

/** What a policy can use besides the request. */
export interface PolicyContext {
  /**
   * Gets a valid token (cached, refreshed or fetched) and records it as the one this hop
   * uses: the token itself when it is cached, a promise when it has to be fetched. `await`
   * it either way.
   */
  token(): Token | Promise<Token>;
  /** The caller's signal, for policies that do I/O. */
  readonly signal: AbortSignal | undefined;
  /** The prover of the key the strategy's tokens are bound to (DPoP), when they are. */
  readonly dpop: DPoPProver | undefined;
}

/** `'skip'` sends the request without any policy's changes and stops the remaining policies. */
export type PolicyResult = void | 'skip';

/**
 * A request policy: a small function over one hop's request. Core runs the policies on
 * every hop to an allowed origin (the first, each redirect hop, a replay), each time on a
 * fresh copy of the caller's request, so a policy may `set` freely and never sees its
 * own earlier changes. Write your own to add a header, sign a request, or scope requests
 * another way.
 *
 * @example
 * ```ts
 * const tenantHeader: RequestPolicy = (request) => {
 *   request.headers.set('X-Tenant', 'oncology');
 * };
 * createAuthStrategy({ source, origins, policies: [tenantHeader] });
 * ```
 */
export type RequestPolicy = (
  request: AuthRequest,
  context: PolicyContext,
) => PolicyResult | Promise<PolicyResult>;
