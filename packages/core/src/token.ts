/**
 * The access token value type. A {@link Token} never prints its secrets: `toString`,
 * `toJSON` and Node's `util.inspect` show a redacted form, and the secret fields are
 * not enumerable, so spreading or `Object.keys` do not copy them by accident.
 *
 * @module
 */
import { ErrorCodes, REDACTED, TokenEndpointError } from './errors.js';

/** What a token is built from. `expiresIn` (seconds, as in RFC 6749) or `expiresAt` (epoch ms). */
export interface TokenInit {
  /** The access token string. */
  accessToken: string;
  /**
   * The token type; `bearer` in any case is normalised to `Bearer` (Medblocks sends
   * lowercase), `dpop` to `DPoP` (RFC 9449). Default `Bearer`. Any other type is refused:
   * a client must not send a token whose type it does not understand (RFC 6749 §7.1). A
   * `DPoP` token is sent only by a strategy whose source has a `DPoPProver`.
   */
  tokenType?: string;
  /** Absolute expiry, in milliseconds since the epoch. Wins over `expiresIn`. */
  expiresAt?: number;
  /**
   * Lifetime in seconds from `issuedAt` (RFC 6749 `expires_in`). `0` counts as "no
   * lifetime given", as Go's oauth2 reads it: the token is used until the API rejects it,
   * instead of a new token for every request.
   */
  expiresIn?: number;
  /** When the token was received, epoch ms. Default: now. */
  issuedAt?: number;
  /** Granted scope, space separated. */
  scope?: string;
  /** Refresh token, when the server returned one. */
  refreshToken?: string;
  /** Other fields of the token response (e.g. MSK's `consented_on`). Never secrets. */
  extra?: Record<string, unknown>;
}

/**
 * An access token with its metadata.
 *
 * @example
 * ```ts
 * const token = createToken({ accessToken: 'abc', expiresIn: 3600 });
 * String(token); // 'Token(Bearer [redacted], expires 2026-…)'
 * ```
 */
export interface Token {
  /** The secret access token. Do not log it. */
  readonly accessToken: string;
  /** `Bearer` or `DPoP` (normalised). */
  readonly tokenType: string;
  /** Absolute expiry in epoch ms, when known. A token without it is used until rejected. */
  readonly expiresAt: number | undefined;
  /** When the token was received, epoch ms. */
  readonly issuedAt: number;
  /** Granted scope, when the server said. */
  readonly scope: string | undefined;
  /** The secret refresh token, when the server returned one. Do not log it. */
  readonly refreshToken: string | undefined;
  /** Non-secret extra fields of the token response. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Redacted description. */
  toString(): string;
  /** Redacted JSON form: `accessToken` and `refreshToken` are `[redacted]`. */
  toJSON(): Record<string, unknown>;
}

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

class TokenImpl implements Token {
  readonly #accessToken: string;
  readonly #refreshToken: string | undefined;
  readonly tokenType: string;
  readonly expiresAt: number | undefined;
  readonly issuedAt: number;
  readonly scope: string | undefined;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(init: TokenInit, now: number) {
    this.#accessToken = init.accessToken;
    this.#refreshToken = init.refreshToken;
    // The two types createToken accepts, in their canonical spelling.
    this.tokenType = init.tokenType?.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    this.issuedAt = init.issuedAt ?? now;
    // expires_in 0 is "no lifetime given" (see TokenInit.expiresIn).
    this.expiresAt = init.expiresAt ?? (init.expiresIn ? this.issuedAt + init.expiresIn * 1000 : undefined);
    this.scope = init.scope;
    this.extra = Object.freeze({ ...(init.extra ?? {}) });
    Object.freeze(this);
  }

  get accessToken(): string {
    return this.#accessToken;
  }

  get refreshToken(): string | undefined {
    return this.#refreshToken;
  }

  toJSON(): Record<string, unknown> {
    return {
      tokenType: this.tokenType,
      accessToken: REDACTED,
      ...(this.#refreshToken === undefined ? {} : { refreshToken: REDACTED }),
      expiresAt: this.expiresAt === undefined ? undefined : new Date(this.expiresAt).toISOString(),
      scope: this.scope,
      extra: this.extra,
    };
  }

  toString(): string {
    const expiry =
      this.expiresAt === undefined ? 'no expiry' : `expires ${new Date(this.expiresAt).toISOString()}`;
    return `Token(${this.tokenType} ${REDACTED}, ${expiry})`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** The latest instant a `Date` can hold (ECMA-262 §21.4.1.22): an expiry past it cannot even be printed. */
const LATEST_DATE_MS = 8.64e15;

/**
 * What an HTTP header can carry of a token: visible ASCII (RFC 9110 field values; RFC
 * 6750's b64token is a subset). NUL, controls, spaces and anything beyond ASCII would
 * make every request throw, with the token in the error.
 */
/** What a header can carry of a token: visible ASCII (RFC 6750's b64token is a subset). */
export const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** Why a token cannot be used, or undefined when it can. Never quotes the token. */
function invalidReason(init: TokenInit, now: number): string | undefined {
  if (typeof init.accessToken !== 'string' || init.accessToken.length === 0)
    return 'access_token must be a non-empty string';
  if (!HEADER_SAFE.test(init.accessToken))
    return 'access_token must be visible ASCII (no whitespace, control characters or non-ASCII)';
  const type: unknown = init.tokenType;
  if (
    type !== undefined &&
    type !== '' &&
    (typeof type !== 'string' || (type.toLowerCase() !== 'bearer' && type.toLowerCase() !== 'dpop'))
  )
    return `token_type ${typeof type === 'string' && HEADER_SAFE.test(type) ? type.slice(0, 20) : '(unprintable)'} is not supported: only Bearer and DPoP tokens can be sent (RFC 6749 §7.1)`;
  if (
    init.refreshToken !== undefined &&
    (typeof init.refreshToken !== 'string' || !HEADER_SAFE.test(init.refreshToken))
  )
    return 'refresh_token must be visible ASCII';
  if (init.expiresIn !== undefined && !(Number.isFinite(init.expiresIn) && init.expiresIn >= 0))
    return 'expires_in must be a non-negative number of seconds';
  if (init.expiresAt !== undefined && !Number.isFinite(init.expiresAt))
    return 'the expiry must be a finite epoch time in milliseconds';
  const issuedAt = init.issuedAt ?? now;
  const expiresAt = init.expiresAt ?? (init.expiresIn ? issuedAt + init.expiresIn * 1000 : undefined);
  if (expiresAt !== undefined && Math.abs(expiresAt) > LATEST_DATE_MS)
    return 'expires_in is too large to be a time';
  return undefined;
}

/**
 * Builds a {@link Token}. Validates the input, so a malformed token response fails here
 * with a typed error rather than as a bad `Authorization` header later.
 *
 * @param init - the token fields
 * @param now - the current time in epoch ms (for tests); default `Date.now()`
 * @throws `TokenEndpointError` with code `AUTHRAIL_TOKEN_RESPONSE_INVALID` when the
 *   fields cannot make a usable token: an access token no header can carry (empty,
 *   whitespace, NUL or other controls, non-ASCII), a token type other than Bearer, a
 *   negative, non-finite or unprintably large lifetime; the token never appears in it
 * @example
 * ```ts
 * const token = createToken({ accessToken: body.access_token, tokenType: body.token_type, expiresIn: body.expires_in });
 * ```
 */
export function createToken(init: TokenInit, now: number = Date.now()): Token {
  const reason = invalidReason(init, now);
  if (reason !== undefined) {
    throw new TokenEndpointError(ErrorCodes.TOKEN_RESPONSE_INVALID, `the token is not usable: ${reason}`, {
      secrets: [
        typeof init.accessToken === 'string' ? init.accessToken : undefined,
        typeof init.refreshToken === 'string' ? init.refreshToken : undefined,
      ],
    });
  }
  return new TokenImpl(init, now);
}

/** The plain, serialisable form of a token, including its secrets, for a {@link TokenStore} that persists tokens. */
export interface TokenRecord {
  /** The access token (secret). */
  accessToken: string;
  /** `Bearer` or `DPoP`. */
  tokenType: string;
  /** Expiry, epoch ms. */
  expiresAt?: number;
  /** When the token was received, epoch ms. */
  issuedAt: number;
  /** Granted scope. */
  scope?: string;
  /** The refresh token (secret). */
  refreshToken?: string;
  /** Other fields of the token response. */
  extra: Record<string, unknown>;
}

/**
 * Returns the plain form of a token, secrets included, for stores that persist tokens
 * (e.g. Redis). Rebuild with `createToken(record)`. Treat the result as a secret.
 */
export function toTokenRecord(token: Token): TokenRecord {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    issuedAt: token.issuedAt,
    ...(token.expiresAt === undefined ? {} : { expiresAt: token.expiresAt }),
    ...(token.scope === undefined ? {} : { scope: token.scope }),
    ...(token.refreshToken === undefined ? {} : { refreshToken: token.refreshToken }),
    extra: { ...token.extra },
  };
}

/** A short, non-reversible description of a token for events and logs: type and expiry only. */
export interface TokenInfo {
  /** `Bearer` or `DPoP`. */
  tokenType: string;
  /** Expiry, epoch ms, when known. */
  expiresAt: number | undefined;
  /** Granted scope, when the server said. */
  scope: string | undefined;
}

/** Returns the non-secret {@link TokenInfo} of a token. */
export function tokenInfo(token: Token): TokenInfo {
  return { tokenType: token.tokenType, expiresAt: token.expiresAt, scope: token.scope };
}
