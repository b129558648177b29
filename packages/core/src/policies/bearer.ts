import { ErrorCodes, TokenEndpointError } from '../errors.js';
import { HEADER_SAFE, type Token } from '../token.js';
import type { AuthRequest } from '../transport.js';
import type { PolicyContext, RequestPolicy } from './types.js';

/** `Authorization` values by token, so a cached token's header is built and checked once. */
const values = new WeakMap<Token, string>();

function authorization(token: Token): string {
  let value = values.get(token);
  if (value === undefined) {
    // createToken checks both; a token source of the user's own may skip it.
    if (!HEADER_SAFE.test(token.tokenType) || !HEADER_SAFE.test(token.accessToken)) {
      throw new TokenEndpointError(
        ErrorCodes.TOKEN_RESPONSE_INVALID,
        'the access token has characters no header can carry (whitespace, control characters or non-ASCII): not sent',
      );
    }
    value = `${token.tokenType} ${token.accessToken}`;
    values.set(token, value);
  }
  return value;
}

/**
 * A token of the wrong kind for this strategy: a `DPoP` token without the key it is bound
 * to, or a `Bearer` token where the source asked for DPoP (a silent downgrade).
 */
function mismatch(token: Token, context: PolicyContext): TokenEndpointError {
  return new TokenEndpointError(
    ErrorCodes.TOKEN_RESPONSE_INVALID,
    context.dpop
      ? `the token source asked for a DPoP-bound token but got one of type "${token.tokenType}": not sent (no silent downgrade)`
      : 'a token of type "DPoP" needs the key it is bound to (the source has no dpop prover): not sent',
  );
}

/** Sets the credential of one hop: `Bearer <token>`, or `DPoP <token>` and a new proof. */
function apply(request: AuthRequest, context: PolicyContext, token: Token): void | Promise<void> {
  const dpop = token.tokenType === 'DPoP';
  if (dpop !== (context.dpop !== undefined)) throw mismatch(token, context);
  request.headers.set('Authorization', authorization(token));
  if (dpop) return context.dpop!.addProof(request.url, request.headers, request.method, token.accessToken);
}

/**
 * Sets `Authorization: <tokenType> <accessToken>` (RFC 6750 §2.1), replacing any
 * `Authorization` the caller set for an allowed origin. With a cached token it works
 * synchronously: no promise on the hot path. A `DPoP` token (RFC 9449 §7.1) also gets a
 * new `DPoP` proof for this hop's method and URL, signed by the source's key.
 *
 * @example
 * ```ts
 * createAuthStrategy({ source, origins, credential: bearer() }); // the default credential
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function bearer(): RequestPolicy {
  return (request, context) => {
    const token = context.token();
    if (token instanceof Promise) return token.then((fetched) => apply(request, context, fetched));
    return apply(request, context, token);
  };
}
