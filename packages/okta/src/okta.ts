import {
  TokenEndpointError,
  createAuthStrategy,
  isTokenEndpointError,
  notice,
  scrubSecrets,
  type TokenAuthStrategy,
} from '@authrail/core';
import {
  clientPresetOptionsOf,
  clientCredentials,
  clientSecretBasic,
  endpointsAt,
  type ClientSecretPresetOptions,
  type ServerEndpoints,
} from '@authrail/oauth2';

/** Options of {@link oktaClientCredentials}. */
export interface OktaClientCredentialsOptions extends ClientSecretPresetOptions {
  /** The authorization server, e.g. `https://<org>.okta.com/oauth2/<authServerId>` (or the org URL for the org server). */
  issuer: string;
  /** Requested scopes, space separated. */
  scope?: string;
  /**
   * Origins that get the token: your API's, e.g. `['https://ctrp-api.example.gov']`.
   * Give it. The default is Okta's own origin, which is almost never the API's: left
   * out, requests to the API go without a token, and a warning says so at construction.
   */
  origins?: readonly string[];
}

/**
 * The token endpoint of an Okta issuer: `{issuer}/v1/token` for a custom authorization
 * server, `{org}/oauth2/v1/token` for the org authorization server.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming `issuer` when it is not an https: URL
 * @example
 * ```ts
 * oktaTokenEndpoint('https://nci.okta.com/oauth2/aus1abc'); // 'https://nci.okta.com/oauth2/aus1abc/v1/token'
 * oktaTokenEndpoint('https://nci.okta.com'); // 'https://nci.okta.com/oauth2/v1/token'
 * ```
 * @see https://developer.okta.com/docs/concepts/auth-servers/
 */
export function oktaTokenEndpoint(issuer: string): string {
  return oktaServer(issuer).tokenEndpoint;
}

function oktaServer(issuer: unknown): ServerEndpoints {
  const server = endpointsAt(issuer, { token: '/v1/token' }, 'issuer');
  const custom = new URL(server.issuer).pathname.startsWith('/oauth2/');
  return custom ? server : { ...server, tokenEndpoint: `${server.issuer}/oauth2/v1/token` };
}

/**
 * Okta's own error body, `{ errorCode, errorSummary, errorLink, errorId, errorCauses }`,
 * as it comes from Okta's management-style endpoints and some token endpoint failures.
 *
 * @see https://developer.okta.com/docs/reference/error-codes/
 */
export interface OktaErrorDetails {
  /** Okta's error code, e.g. `E0000011`. */
  errorCode: string;
  /** Its human summary. */
  errorSummary: string | undefined;
  /** A link to the error's documentation. */
  errorLink: string | undefined;
  /** The id of this occurrence, to quote in a support case. */
  errorId: string | undefined;
  /** Further causes (`errorSummary` of each). */
  errorCauses: string[];
}

/**
 * Reads Okta's error shape from a token endpoint error, if the body had it. The error's
 * `error` and `errorDescription` already carry `errorCode` and `errorSummary` when the
 * error came through {@link oktaClientCredentials}.
 *
 * @example
 * ```ts
 * catch (err) { const okta = oktaErrorDetails(err); if (okta) logger.warn(`Okta ${okta.errorCode} (${okta.errorId})`); }
 * ```
 */
export function oktaErrorDetails(error: unknown): OktaErrorDetails | undefined {
  if (!isTokenEndpointError(error) || !error.body) return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(error.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof body?.errorCode !== 'string') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const causes = Array.isArray(body.errorCauses) ? body.errorCauses : [];
  return {
    errorCode: body.errorCode,
    errorSummary: str(body.errorSummary),
    errorLink: str(body.errorLink),
    errorId: str(body.errorId),
    errorCauses: causes
      .map((c) => str((c as { errorSummary?: unknown } | null)?.errorSummary))
      .filter((c): c is string => c !== undefined),
  };
}

/** Okta's `X-Rate-Limit-Reset` (epoch seconds), as a wait, when a 429 came without `Retry-After`. */
function rateLimitWait(error: TokenEndpointError, headers: Headers | undefined): number | undefined {
  if (error.status !== 429 || error.retryAfterMs !== undefined) return undefined;
  const reset = headers?.get('x-rate-limit-reset')?.trim();
  return reset && /^\d+$/.test(reset) ? Math.max(0, Number(reset) * 1000 - Date.now()) : undefined;
}

/**
 * Okta's knowledge, as the token source's `mapError`: its own error shape
 * (`errorCode`, `errorSummary`) mapped onto `error` / `errorDescription` (the OAuth shape
 * passes as it is), and a 429's `X-Rate-Limit-Reset` read as the wait Okta asks for.
 */
function oktaErrors(
  error: TokenEndpointError,
  response: { headers: Headers } | undefined,
): TokenEndpointError {
  const okta = error.error === undefined ? oktaErrorDetails(error) : undefined;
  const wait = rateLimitWait(error, response?.headers);
  if (!okta && wait === undefined) return error;
  const retryAfterMs = wait ?? error.retryAfterMs;
  return new TokenEndpointError(
    error.code,
    okta
      ? `Okta token endpoint ${error.endpoint ?? ''} answered ${error.status ?? ''} ${okta.errorCode}${okta.errorSummary ? `: ${scrubSecrets(okta.errorSummary, [])}` : ''}`
      : error.message,
    {
      cause: error,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(okta ? { error: okta.errorCode } : error.error === undefined ? {} : { error: error.error }),
      ...(okta?.errorSummary
        ? { errorDescription: okta.errorSummary }
        : error.errorDescription === undefined
          ? {}
          : { errorDescription: error.errorDescription }),
      ...(error.body ? { body: error.body } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(error.endpoint ? { endpoint: error.endpoint } : {}),
    },
  );
}

/**
 * Okta client credentials (NCI CTRP): HTTP Basic client authentication, both of Okta's
 * error shapes as typed errors. Token lifetimes from 5 minutes to 24 hours (CTRP uses
 * 30 min to 8 h) are handled by the token manager's proportional refresh window.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * const strategy = oktaClientCredentials({
 *   issuer: 'https://nci.okta.com/oauth2/aus1abc',
 *   clientId, clientSecret, scope: 'ctrp.accrual',
 *   origins: ['https://ctrp.cancer.gov'],
 * });
 * ```
 * @see https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/
 */
export function oktaClientCredentials(options: OktaClientCredentialsOptions): TokenAuthStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, ['issuer', 'clientSecret', 'scope']);
  const server = oktaServer(options.issuer);
  const source = clientCredentials({
    server,
    clientId: options.clientId,
    clientAuth: clientSecretBasic(options.clientSecret),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...grant,
    mapError: oktaErrors,
  });
  const oktaOrigin = new URL(server.tokenEndpoint).origin;
  const strategy = createAuthStrategy({ ...preset, source, origins: preset.origins ?? [oktaOrigin] });
  if (options.origins === undefined) {
    // Okta issues the token; the API it is for (CTRP) lives elsewhere. Said first, and loudly.
    notice(
      options.logger,
      `authrail: oktaClientCredentials was given no origins, so only ${oktaOrigin} (Okta itself) gets the token; requests to your API go without one until you pass origins: ['https://your-api.example.org'] (logger: false silences this)`,
    );
  }
  return strategy;
}
