import type { Token } from '../token.js';

/**
 * The neutral view of an outgoing request that every adapter builds from its own
 * client's request and copies back after the policies ran. Policies change `url` and
 * `headers` in place.
 */
export interface AuthRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** The full URL; policies may change its query (scoping). */
  url: URL;
  /** The request headers; policies set credentials here. */
  headers: Headers;
}

/** What a policy can use besides the request. */
export interface PolicyContext {
  /** Gets a valid token (cached, refreshed or fetched); records it as the one used. */
  token(): Promise<Token>;
  /** The caller's signal, for policies that do I/O. */
  readonly signal: AbortSignal | undefined;
}

/** `'skip'` leaves the request untouched and stops the remaining policies. */
export type PolicyResult = void | 'skip';

/**
 * A request policy: a small function over the neutral request view. Write your own to
 * add a header, sign a request, or scope requests another way.
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
