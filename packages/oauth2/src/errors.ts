import * as client from 'openid-client';
import { ErrorCodes, TokenEndpointError, isAuthrailError, type AuthrailError } from '@authrail/core';

/** What the wrapping fetch saw of the token endpoint's last response. */
export interface Observed {
  status?: number;
  retryAfter?: string | null;
  body?: string;
}

/**
 * Parses `Retry-After`: delta seconds or an HTTP date, into milliseconds from `now`.
 *
 * @example
 * ```ts
 * retryAfterMs('7'); // 7000
 * retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT'); // ms until then (0 if past)
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
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
 * error responses and Okta's `errorCode` shape (normalised into `error` /
 * `errorDescription`), non-JSON and malformed bodies, network failures and timeouts.
 */
export function toTokenEndpointError(
  error: unknown,
  observed: Observed,
  endpoint: string,
  secrets: readonly string[],
  timedOut: boolean,
  what = 'token endpoint',
): AuthrailError {
  if (isAuthrailError(error)) return error; // already typed (e.g. a ConfigError from a secret function)
  const common = { endpoint, secrets, cause: error };
  const name = (error as { name?: unknown } | undefined)?.name;
  if (timedOut || name === 'TimeoutError') {
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
      `${what} ${endpoint} did not answer in time`,
      common,
    );
  }
  if (name === 'AbortError') return error as AuthrailError; // the caller's own abort: keep it as it is
  if (observed.status === undefined) {
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      `could not reach ${what} ${endpoint}`,
      common,
    );
  }
  const status = observed.status;
  const retryAfter = retryAfterMs(observed.retryAfter);
  const base = { ...common, status, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }) };
  if (status >= 400) {
    const body = parseJson(observed.body);
    if (body && (typeof body.error === 'string' || typeof body.errorCode === 'string')) {
      const details = {
        ...base,
        error: str(body.error),
        errorDescription: str(body.error_description),
        errorCode: str(body.errorCode),
        errorSummary: str(body.errorSummary),
        errorId: str(body.errorId),
      };
      const kind = details.error ?? details.errorCode;
      const why = details.errorDescription ?? details.errorSummary;
      return new TokenEndpointError(
        ErrorCodes.TOKEN_ENDPOINT_ERROR,
        `${what} ${endpoint} answered ${status} ${kind}${why ? `: ${why}` : ''}`,
        details,
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
