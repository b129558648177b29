/**
 * Error types. Every error authrail throws is an {@link AuthrailError} with a stable
 * `code` (one of {@link ErrorCodes}), a literal `name`, and a `cause` that has been
 * scrubbed of secrets. Messages are built only from non-secret fields.
 *
 * @module
 */

/**
 * Stable error codes, safe to switch on and to count in metrics.
 *
 * @example
 * ```ts
 * if (isAuthrailError(err) && err.code === ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE) retryLater();
 * ```
 */
export const ErrorCodes = {
  /** An option given to a factory is missing or invalid; `option` names it. */
  CONFIG: 'AUTHRAIL_CONFIG',
  /** The token endpoint answered with an OAuth 2 (or Okta) error response. */
  TOKEN_ENDPOINT_ERROR: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR',
  /** The token endpoint answered, but not with a usable token response (HTML page, malformed JSON, no `access_token`). */
  TOKEN_RESPONSE_INVALID: 'AUTHRAIL_TOKEN_RESPONSE_INVALID',
  /** The token endpoint could not be reached (DNS, refused, reset). */
  TOKEN_ENDPOINT_UNREACHABLE: 'AUTHRAIL_TOKEN_ENDPOINT_UNREACHABLE',
  /** The token endpoint did not answer in time. */
  TOKEN_ENDPOINT_TIMEOUT: 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT',
  /** A required request scope (such as MSK's `researchstudy`) was absent; nothing was sent. */
  MISSING_SCOPE: 'AUTHRAIL_MISSING_SCOPE',
  /** The authorization response (redirect back from the authorize endpoint) was an error or did not match the stored state. */
  AUTHORIZATION_RESPONSE: 'AUTHRAIL_AUTHORIZATION_RESPONSE',
  /** A flow was used out of order, e.g. a token was asked for before the user signed in. */
  NOT_AUTHENTICATED: 'AUTHRAIL_NOT_AUTHENTICATED',
  /** A redirect was not followed: more than 20 hops, the caller's `redirect: 'error'`, or a credential the runtime would forward. */
  REDIRECT: 'AUTHRAIL_REDIRECT',
  /** A policy moved a request to an origin outside `origins` after the origin check; it was not sent. */
  ORIGIN_NOT_ALLOWED: 'AUTHRAIL_ORIGIN_NOT_ALLOWED',
  /** A client certificate or its key (mutual TLS, RFC 8705) could not be read, or they do not belong together. */
  CLIENT_CERTIFICATE: 'AUTHRAIL_CLIENT_CERTIFICATE',
} as const;

/** One of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const BRAND = Symbol.for('authrail.error');

/** Options shared by every authrail error constructor. */
export interface AuthrailErrorOptions {
  /** The underlying error. It is kept, but scrubbed of `secrets` first. */
  cause?: unknown;
  /** Strings that must never appear in the message or the cause (client secrets, tokens). */
  secrets?: readonly (string | undefined)[];
}

/**
 * Base class of every error authrail throws.
 *
 * @example
 * ```ts
 * try { await api('/Patient'); } catch (err) {
 *   if (isAuthrailError(err)) logger.warn(err.code);
 * }
 * ```
 */
export class AuthrailError extends Error {
  /** The class name, literal per subclass (`'ConfigError'`, `'TokenEndpointError'`, …). */
  override readonly name: string = 'AuthrailError';
  /** Stable machine-readable code, one of {@link ErrorCodes}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: AuthrailErrorOptions = {}) {
    const secrets = options.secrets ?? [];
    // authrail's own words are never rewritten by shape; only the secrets it was told of go.
    super(redactSecrets(message, secrets));
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', {
        value: scrubError(options.cause, secrets),
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
  }
}

/** Options for {@link ConfigError}. */
export interface ConfigErrorOptions extends AuthrailErrorOptions {
  /** The option that is wrong, as the user wrote it (e.g. `"clientSecret"`, `"refresh.skewMs"`). */
  option: string;
}

/**
 * A factory was given a missing or invalid option. Thrown at construction, never later.
 *
 * @example
 * ```ts
 * mskApim({ baseUrl: 'ftp://x' }); // ConfigError: baseUrl: must be an https: URL (http: only for loopback)
 * ```
 */
export class ConfigError extends AuthrailError {
  /** Always `'ConfigError'`. */
  override readonly name = 'ConfigError';
  /** The option that is wrong. */
  readonly option: string;

  constructor(message: string, options: ConfigErrorOptions) {
    super(ErrorCodes.CONFIG, `${options.option}: ${message}`, options);
    this.option = options.option;
  }
}

/** Fields of a token endpoint failure. All are optional because not every failure has them. */
export interface TokenEndpointErrorDetails extends AuthrailErrorOptions {
  /** HTTP status of the token endpoint's response, when there was one. */
  status?: number;
  /** OAuth 2 `error` (RFC 6749 §5.2), or the vendor's error code as its preset maps it. */
  error?: string;
  /** OAuth 2 `error_description`, or the vendor's summary as its preset maps it. */
  errorDescription?: string;
  /** The raw response body (scrubbed of secrets and cut to 4 KiB), for presets that know the vendor's error shape. */
  body?: string;
  /** Milliseconds from a `Retry-After` header, when the server sent one. */
  retryAfterMs?: number;
  /** The token endpoint URL (without query), for the message. */
  endpoint?: string;
}

/** Longest raw body kept on a {@link TokenEndpointError}. */
const MAX_BODY = 4096;

/**
 * The token endpoint failed. `code` tells which way:
 * {@link ErrorCodes.TOKEN_ENDPOINT_ERROR} (an OAuth error response),
 * {@link ErrorCodes.TOKEN_RESPONSE_INVALID}, {@link ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE}
 * or {@link ErrorCodes.TOKEN_ENDPOINT_TIMEOUT}. Vendor error shapes (such as Okta's
 * `errorCode`/`errorSummary`) are kept in `body` and read by the vendor's preset.
 *
 * @example
 * ```ts
 * if (isTokenEndpointError(err) && err.error === 'invalid_client') alertOps(err.endpoint);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class TokenEndpointError extends AuthrailError {
  /** Always `'TokenEndpointError'`. */
  override readonly name = 'TokenEndpointError';
  /** HTTP status of the token endpoint's answer; undefined when there was none (network, timeout). */
  readonly status: number | undefined;
  /** OAuth `error` (e.g. `invalid_client`). */
  readonly error: string | undefined;
  /** OAuth `error_description`. */
  readonly errorDescription: string | undefined;
  /** The raw response body, scrubbed of secrets and cut to 4 KiB, when there was one. */
  readonly body: string | undefined;
  /** How long the server asked to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** The token endpoint (origin and path), for the message and logs. */
  readonly endpoint: string | undefined;

  constructor(code: ErrorCode, message: string, details: TokenEndpointErrorDetails = {}) {
    super(code, message, details);
    const secrets = details.secrets ?? [];
    const clean = (v: string | undefined) => (v === undefined ? undefined : scrubSecrets(v, secrets));
    this.status = details.status;
    this.error = clean(details.error);
    this.errorDescription = clean(details.errorDescription);
    this.body = clean(details.body?.slice(0, MAX_BODY));
    this.retryAfterMs = details.retryAfterMs;
    this.endpoint = details.endpoint;
  }

  /**
   * Whether trying again may help: network failures, timeouts, 429 and 5xx are
   * transient; other 4xx (such as `invalid_client`) and malformed 2xx responses are not.
   */
  get retryable(): boolean {
    if (this.code === ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE) return true;
    if (this.code === ErrorCodes.TOKEN_ENDPOINT_TIMEOUT) return true;
    const status = this.status ?? 0;
    return status === 429 || status >= 500;
  }
}

/** Fields of a {@link RedirectError}. */
export interface RedirectErrorDetails extends AuthrailErrorOptions {
  /** The redirect's status (0 for a browser's opaque redirect). */
  status: number;
  /** Where it pointed: origin and path, no query. Absent when the runtime hid it. */
  location?: string;
}

/**
 * A redirect was not followed: the chain was longer than 20 hops, the caller asked for
 * `redirect: 'error'`, or (in a browser, which follows redirects out of sight) the
 * request carried a credential the browser would forward to any origin.
 *
 * @example
 * ```ts
 * try { await api(url, { redirect: 'error' }); } catch (err) { if (isRedirectError(err)) console.warn(err.location); }
 * ```
 * @see https://fetch.spec.whatwg.org/#http-redirect-fetch
 */
export class RedirectError extends AuthrailError {
  /** Always `'RedirectError'`. */
  override readonly name = 'RedirectError';
  /** The redirect's status (0 for a browser's opaque redirect). */
  readonly status: number;
  /** Where it pointed (origin and path), when known. */
  readonly location: string | undefined;

  constructor(message: string, details: RedirectErrorDetails) {
    super(ErrorCodes.REDIRECT, message, details);
    this.status = details.status;
    this.location = details.location;
  }
}

/**
 * A required request scope parameter was absent, so the request was not sent.
 * For MSK APIM this is `researchstudy` (the protocol the request is for).
 */
export class MissingScopeError extends AuthrailError {
  /** Always `'MissingScopeError'`. */
  override readonly name = 'MissingScopeError';
  /** The query parameter that was required, e.g. `researchstudy`. */
  readonly param: string;

  constructor(param: string, url: URL) {
    super(
      ErrorCodes.MISSING_SCOPE,
      `${param} is required on requests to ${url.origin}${url.pathname}; set a default or pass it per request`,
    );
    this.param = param;
  }
}

/** Fields of an {@link AuthorizationResponseError}. */
export interface AuthorizationResponseErrorDetails extends AuthrailErrorOptions {
  /** OAuth 2 `error` from the redirect (e.g. `access_denied`), or `state_mismatch` / `missing_code` / `no_pending_authorization`. */
  error: string;
  /** OAuth `error_description` from the redirect, when there was one. */
  errorDescription?: string;
}

/**
 * The redirect back from the authorization endpoint could not be accepted: it carried
 * an OAuth error, its `state` did not match, or no authorization was pending.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export class AuthorizationResponseError extends AuthrailError {
  /** Always `'AuthorizationResponseError'`. */
  override readonly name = 'AuthorizationResponseError';
  /** The OAuth `error` of the redirect (`access_denied`, …) or `state_mismatch`, `missing_code`, `no_pending_authorization`. */
  readonly error: string;
  /** The redirect's `error_description`, when it had one. */
  readonly errorDescription: string | undefined;

  constructor(message: string, details: AuthorizationResponseErrorDetails) {
    super(ErrorCodes.AUTHORIZATION_RESPONSE, message, details);
    this.error = details.error;
    this.errorDescription = details.errorDescription;
  }
}

/**
 * A flow was used out of order: a token was asked for before anyone signed in (or after
 * the session ended), or a browser-only step was called outside a browser. Sign in (again)
 * and retry.
 *
 * @example
 * ```ts
 * try { await api('/Patient'); } catch (err) {
 *   if (isNotAuthenticatedError(err)) await auth.login();
 * }
 * ```
 */
export class NotAuthenticatedError extends AuthrailError {
  override readonly name = 'NotAuthenticatedError';

  constructor(message: string, options: AuthrailErrorOptions = {}) {
    super(ErrorCodes.NOT_AUTHENTICATED, message, options);
  }
}

/**
 * What {@link toTokenEndpointError} knows of a failed request to an authorization server.
 */
export interface EndpointFailure {
  /** The endpoint, as messages show it (origin and path, never a query). */
  endpoint: string;
  /** What was asked, for messages. Default `token endpoint`; also `revocation endpoint`, `discovery document`. */
  what?: string;
  /** The request's own deadline passed. */
  timedOut?: boolean;
  /**
   * What failed to make the client's credential before anything was sent (`the signer`,
   * `the secret, key or signer function`): the failure was the caller's function's, not
   * the server's.
   */
  credential?: string;
  /** What the server answered, when it answered at all. */
  response?: {
    /** The HTTP status. */
    status: number;
    /** The body as text, when the status was an error. */
    body?: string;
    /** How long the server asked to wait (`Retry-After`, or a vendor's own header read by its preset). */
    retryAfterMs?: number;
  };
  /** Strings that must not appear anywhere in the error (what was sent: secrets, codes, assertions). */
  secrets?: readonly (string | undefined)[];
}

/** The first `code` (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_…`) in an error's cause chain. */
function rootCode(error: unknown): string | undefined {
  let at = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; at && depth < 5; depth += 1) {
    if (typeof at.code === 'string' && at.code) return at.code;
    at = at.cause as typeof at;
  }
  return undefined;
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
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

/**
 * The one mapping of a failed request to an authorization server (token, revocation,
 * discovery; a secret, key or signer that could not be read) onto a typed error: an
 * authrail error as it is; the deadline → `TOKEN_ENDPOINT_TIMEOUT`; a function that
 * failed to make the credential (`credential`) or no answer →
 * `TOKEN_ENDPOINT_UNREACHABLE`, with the root cause's code in the message; an OAuth error
 * body → `TOKEN_ENDPOINT_ERROR` with `error` and `error_description`; anything else the
 * server said → `TOKEN_RESPONSE_INVALID`. Server text is scrubbed of credentials; the
 * `secrets` anywhere.
 *
 * @example
 * ```ts
 * const source: TokenSource = {
 *   identity: { tokenEndpoint: 'https://auth.example/token', clientId: 'svc' },
 *   async fetchToken({ signal }) {
 *     const response = await fetch('https://auth.example/token', { method: 'POST', signal }).catch((error: unknown) => {
 *       throw toTokenEndpointError(error, { endpoint: 'https://auth.example/token' });
 *     });
 *     if (!response.ok)
 *       throw toTokenEndpointError(undefined, { endpoint: 'https://auth.example/token', response: { status: response.status, body: await response.text() } });
 *     const body = (await response.json()) as { access_token: string; expires_in: number };
 *     return createToken({ accessToken: body.access_token, expiresIn: body.expires_in });
 *   },
 * };
 * ```
 */
export function toTokenEndpointError(error: unknown, failure: EndpointFailure): AuthrailError {
  const { endpoint, response } = failure;
  const what = failure.what ?? 'token endpoint';
  const secrets = (failure.secrets ?? []).filter((s): s is string => !!s);
  const common = { endpoint, secrets, ...(error === undefined ? {} : { cause: error }) };
  if (failure.timedOut)
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
      `${what} ${endpoint} did not answer in time`,
      common,
    );
  if (isAuthrailError(error)) return error;
  if (failure.credential) {
    // The function's own text may say why (a TypeError from a key import); it is not the server's.
    const why = error instanceof TypeError ? ` (${scrubSecrets(error.message, secrets)})` : '';
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      `could not make the client credential for ${what} ${endpoint}: ${failure.credential} failed${why}`,
      common,
    );
  }
  if (!response) {
    const code = rootCode(error);
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      `could not reach ${what} ${endpoint}${code ? ` (${code})` : ''}`,
      common,
    );
  }
  const { status } = response;
  const details = {
    ...common,
    status,
    ...(response.body ? { body: response.body } : {}),
    ...(response.retryAfterMs === undefined ? {} : { retryAfterMs: response.retryAfterMs }),
  };
  if (status < 400) {
    const code = rootCode(error);
    return new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      `${what} ${endpoint} answered ${status} but not with a usable ${what === 'token endpoint' ? 'token response' : 'document'}${code ? ` (${code})` : ''}`,
      details,
    );
  }
  const body = parseObject(response.body);
  if (!body)
    return new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      `${what} ${endpoint} answered ${status} with a body that is not JSON (a gateway error page?)`,
      details,
    );
  if (typeof body.error !== 'string')
    return new TokenEndpointError(
      ErrorCodes.TOKEN_ENDPOINT_ERROR,
      `${what} ${endpoint} answered ${status}`,
      details,
    );
  const description = typeof body.error_description === 'string' ? body.error_description : undefined;
  // Server text: scrubbed before it becomes part of authrail's message.
  const said = scrubSecrets(`${body.error}${description ? `: ${description}` : ''}`, secrets);
  return new TokenEndpointError(
    ErrorCodes.TOKEN_ENDPOINT_ERROR,
    `${what} ${endpoint} answered ${status} ${said}`,
    {
      ...details,
      error: body.error,
      ...(description ? { errorDescription: description } : {}),
    },
  );
}

/** True for any error thrown by authrail, also across realms and duplicate installs. */
export function isAuthrailError(value: unknown): value is AuthrailError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** True for a {@link TokenEndpointError} (any of its codes). */
export function isTokenEndpointError(value: unknown): value is TokenEndpointError {
  return isAuthrailError(value) && value.name === 'TokenEndpointError';
}

/** True for a {@link NotAuthenticatedError}: sign in (again) and retry. */
export function isNotAuthenticatedError(value: unknown): value is NotAuthenticatedError {
  return isAuthrailError(value) && value.code === ErrorCodes.NOT_AUTHENTICATED;
}

/** True for a {@link MissingScopeError}. */
export function isMissingScopeError(value: unknown): value is MissingScopeError {
  return isAuthrailError(value) && value.code === ErrorCodes.MISSING_SCOPE;
}

/** True for a {@link ConfigError}. */
export function isConfigError(value: unknown): value is ConfigError {
  return isAuthrailError(value) && value.code === ErrorCodes.CONFIG;
}

/** True for a {@link RedirectError}. */
export function isRedirectError(value: unknown): value is RedirectError {
  return isAuthrailError(value) && value.code === ErrorCodes.REDIRECT;
}

/** True for an {@link AuthorizationResponseError}. */
export function isAuthorizationResponseError(value: unknown): value is AuthorizationResponseError {
  return isAuthrailError(value) && value.code === ErrorCodes.AUTHORIZATION_RESPONSE;
}

/** Placeholder that stands where a secret was. */
export const REDACTED = '[redacted]';

// Credentials recognised by shape, for text from code that did not tell us its secrets:
// form fields, JSON fields and Authorization header values.
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  /\b(client_secret|client_assertion|code_verifier|refresh_token|access_token|id_token|password|code|assertion)=([^&\s"']+)/gi,
  // JSON fields, also as quoted inside another JSON string (`\"access_token\":\"…\"`).
  /(\\*"(?:client_secret|client_assertion|code_verifier|refresh_token|access_token|id_token|password|accessToken|refreshToken|clientSecret)\\*"\s*:\s*\\*")((?:[^"\\]|\\(?!"))*)(\\*")/g,
  /\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9\-._~+/]+=*/g,
];

/**
 * Scrubs text that came from elsewhere (a server's error body or description, another
 * library's message) before it is kept or shown: every occurrence of each secret (and
 * its URL-encoded forms) becomes `[redacted]`, and so does anything that looks like a
 * credential by its shape (`client_secret=…`, `"access_token":"…"`, also JSON quoted in
 * JSON, `Bearer …`, `Basic …`). Secrets shorter than 4 characters are ignored to avoid
 * mangling ordinary text. Presets use it for vendor text they put in a message.
 *
 * @example
 * ```ts
 * scrubSecrets('login failed for s3cr3t-value', ['s3cr3t-value']); // 'login failed for [redacted]'
 * scrubSecrets('client_secret=abc123&x=1', []); // 'client_secret=[redacted]&x=1'
 * ```
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  const [form, json, header] = CREDENTIAL_PATTERNS as [RegExp, RegExp, RegExp];
  out = out.replace(form, (_m, name: string) => `${name}=${REDACTED}`);
  out = out.replace(json, (_m, head: string, _v: string, tail: string) => `${head}${REDACTED}${tail}`);
  out = out.replace(header, (m) => `${m.split(/\s+/)[0]} ${REDACTED}`);
  return redactSecrets(out, secrets);
}

/**
 * Replaces every occurrence of each secret (and its URL-encoded forms) with
 * `[redacted]`, and nothing else: for text authrail writes itself, which names no
 * credential but may have been built around one it was told of. Text from elsewhere (a
 * server's body, another library's error) goes through {@link scrubSecrets}.
 */
function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of secretForms(secret)) out = out.split(form).join(REDACTED);
  }
  return out;
}

function secretForms(secret: string): string[] {
  const forms = new Set([secret]);
  try {
    forms.add(encodeURIComponent(secret));
    forms.add(encodeURIComponent(secret).replace(/%20/g, '+'));
    // application/x-www-form-urlencoded, as client_secret_post sends it: also !'()~ escaped.
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
  } catch {
    // lone surrogates cannot be encoded; the raw form is still scrubbed
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * Returns a copy of an error (or value) safe to keep as a `cause`: message and stack
 * scrubbed of secrets, request/response objects (which may hold credentials) dropped,
 * nested causes scrubbed too.
 */
export function scrubError(value: unknown, secrets: readonly (string | undefined)[], depth = 0): unknown {
  if (isAuthrailError(value) && secrets.length === 0) return value;
  if (!(value instanceof Error)) {
    if (typeof value === 'string') return scrubSecrets(value, secrets);
    if (typeof value === 'object' && value !== null) return '[object omitted: may contain credentials]';
    return value;
  }
  const copy = new Error(scrubSecrets(value.message, secrets));
  Object.defineProperty(copy, 'name', { value: value.name, enumerable: false, configurable: true });
  copy.stack = scrubSecrets(value.stack ?? '', secrets);
  const code = (value as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') {
    Object.defineProperty(copy, 'code', { value: code, enumerable: true });
  }
  if (value.cause !== undefined && depth < 4) {
    Object.defineProperty(copy, 'cause', {
      value: scrubError(value.cause, secrets, depth + 1),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
  return copy;
}
