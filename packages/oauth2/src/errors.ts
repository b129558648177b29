import * as client from 'openid-client';
import { ErrorCodes, TokenEndpointError, isAuthrailError, type AuthrailError } from '@authrail/core';

/** What the wrapping fetch saw of the token endpoint's last response. */
export interface Observed {
  status?: number;
  retryAfter?: string | null;
  /** Okta's `X-Rate-Limit-Reset`: when the rate limit window resets, in epoch seconds. */
  rateLimitReset?: string | null;
  body?: string;
  /** An error already typed while reading the response (a body over the size cap). */
  failure?: AuthrailError;
}

/**
 * Parses `Retry-After`: delta seconds or an HTTP date, into milliseconds from `now`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long a 429 asks to wait: `Retry-After`, or else Okta's `X-Rate-Limit-Reset`
 * (epoch seconds of the window's end), which Okta sends on 429 without `Retry-After`.
 *
 * @see https://developer.okta.com/docs/reference/rl-best-practices/
 */
function waitAsked(observed: Observed, now = Date.now()): number | undefined {
  const retryAfter = retryAfterMs(observed.retryAfter, now);
  if (retryAfter !== undefined || observed.status !== 429) return retryAfter;
  const reset = observed.rateLimitReset?.trim();
  if (!reset || !/^\d+$/.test(reset)) return undefined;
  return Math.max(0, Number(reset) * 1000 - now);
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Maps whatever openid-client or fetch threw into a {@link TokenEndpointError}: OAuth
 * error responses (`error`, `error_description`), non-JSON and malformed bodies, and
 * network failures. The raw body is kept (scrubbed) for presets that know a vendor's
 * own error shape. A caller's abort is not mapped here: the caller gets its reason, and
 * the token manager maps its own attempt timeout.
 */
export function toTokenEndpointError(
  error: unknown,
  observed: Observed,
  endpoint: string,
  secrets: readonly string[],
  what = 'token endpoint',
): AuthrailError {
  if (observed.failure) return observed.failure; // typed while reading (too large)
  if (isAuthrailError(error)) return error; // already typed (e.g. from a secret function)
  const common = { endpoint, secrets, cause: error };
  if (observed.status === undefined) {
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      `could not reach ${what} ${endpoint}`,
      common,
    );
  }
  const status = observed.status;
  const retryAfter = waitAsked(observed);
  const base = {
    ...common,
    status,
    ...(observed.body ? { body: observed.body } : {}),
    ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
  };
  if (status >= 400) {
    const body = parseJson(observed.body);
    if (body && typeof body.error === 'string') {
      const description = str(body.error_description);
      return new TokenEndpointError(
        ErrorCodes.TOKEN_ENDPOINT_ERROR,
        `${what} ${endpoint} answered ${status} ${body.error}${description ? `: ${description}` : ''}`,
        { ...base, error: body.error, ...(description ? { errorDescription: description } : {}) },
      );
    }
    if (body) {
      return new TokenEndpointError(
        ErrorCodes.TOKEN_ENDPOINT_ERROR,
        `${what} ${endpoint} answered ${status}`,
        base,
      );
    }
    return new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      `${what} ${endpoint} answered ${status} with a body that is not JSON (a gateway error page?)`,
      base,
    );
  }
  const code =
    error instanceof client.ClientError || (error as { code?: unknown })?.code
      ? String((error as { code?: unknown }).code ?? '')
      : '';
  return new TokenEndpointError(
    ErrorCodes.TOKEN_RESPONSE_INVALID,
    `${what} ${endpoint} answered ${status} but not with a usable ${what === 'token endpoint' ? 'token response' : 'document'}${code ? ` (${code})` : ''}`,
    base,
  );
}

/**
 * What to throw when `signal` ended a request: a typed timeout when it was a timeout
 * (the token manager's per-attempt timeout, or a caller's `AbortSignal.timeout`), the
 * caller's own reason otherwise.
 */
export function abortedBy(signal: AbortSignal, endpoint: string, what = 'token endpoint'): unknown {
  const reason: unknown = signal.reason;
  if ((reason as { name?: unknown } | undefined)?.name === 'TimeoutError') {
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
      `${what} ${endpoint} did not answer in time`,
      {
        endpoint,
        cause: reason,
      },
    );
  }
  return reason;
}
