import type { Token } from '../token.js';
import type { RequestPolicy } from './types.js';

/** `Authorization` values by token, so a cached token's header is built once. */
const values = new WeakMap<Token, string>();

function authorization(token: Token): string {
  let value = values.get(token);
  if (value === undefined) {
    value = `${token.tokenType} ${token.accessToken}`;
    values.set(token, value);
  }
  return value;
}

/**
 * Sets `Authorization: <tokenType> <accessToken>` (RFC 6750 §2.1), replacing any
 * `Authorization` the caller set for an allowed origin. With a cached token it works
 * synchronously: no promise on the hot path.
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
    if (token instanceof Promise) {
      return token.then((fetched) => void request.headers.set('Authorization', authorization(fetched)));
    }
    request.headers.set('Authorization', authorization(token));
  };
}
