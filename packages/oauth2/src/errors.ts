// What a request to the authorization server showed, and the error it becomes when it
// fails: core's one mapping (`toTokenEndpointError`), fed with what was seen on the wire.
import { ErrorCodes, TokenEndpointError, toTokenEndpointError, type AuthrailError } from '@authrail/core';

/** What a request to the authorization server showed, read as it was made (see `endpointFetch`). */
export interface Observed {
  /** The answer, when there was one: status, headers, and the body of an error. */
  response?: { status: number; headers: Headers; body?: string };
  /** An error already typed while reading (a body over `maxResponseBytes`). */
  failure?: AuthrailError;
}

/**
 * A preset's knowledge of its vendor's errors: given the error core's mapping made and
 * the response it came from (when there was one), the error to throw instead (Okta's
 * `errorCode`/`errorSummary`, its `X-Rate-Limit-Reset`). Return the error itself to keep it.
 */
export type MapError = (
  error: TokenEndpointError,
  response: { readonly status: number; readonly headers: Headers } | undefined,
) => TokenEndpointError;

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Maps what openid-client or fetch threw, with what was observed, onto core's typed error. */
export function endpointError(
  error: unknown,
  observed: Observed,
  endpoint: string,
  secrets: readonly string[],
  what = 'token endpoint',
): AuthrailError {
  if (observed.failure) return observed.failure;
  const seen = observed.response;
  const retryAfter = retryAfterMs(seen?.headers.get('retry-after'));
  return toTokenEndpointError(error, {
    endpoint,
    what,
    secrets,
    ...(seen
      ? {
          response: {
            status: seen.status,
            ...(seen.body ? { body: seen.body } : {}),
            ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
          },
        }
      : {}),
  });
}

/** The error for a request its signal ended: a timeout is the endpoint's; any other abort is the caller's own reason. */
export function abortedBy(signal: AbortSignal, endpoint: string, what = 'token endpoint'): unknown {
  const reason: unknown = signal.reason;
  if ((reason as { name?: unknown } | undefined)?.name === 'TimeoutError')
    return toTokenEndpointError(reason, { endpoint, what, timedOut: true });
  return reason;
}

/** The typed error for a response body over the size cap. */
export function tooLarge(what: string, url: string, status: number, max: number): TokenEndpointError {
  const where = new URL(url);
  return new TokenEndpointError(
    ErrorCodes.TOKEN_RESPONSE_INVALID,
    `${what} ${where.origin}${where.pathname} answered ${status} with a body over ${max} bytes (maxResponseBytes); the rest was not read`,
    { endpoint: `${where.origin}${where.pathname}`, status },
  );
}
