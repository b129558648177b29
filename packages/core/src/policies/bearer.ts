import type { RequestPolicy } from './types.js';

/**
 * Sets `Authorization: <tokenType> <accessToken>` (RFC 6750 §2.1), replacing any
 * `Authorization` the caller set for an allowed origin.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function bearer(): RequestPolicy {
  return async (request, context) => {
    const token = await context.token();
    request.headers.set('Authorization', `${token.tokenType} ${token.accessToken}`);
  };
}
