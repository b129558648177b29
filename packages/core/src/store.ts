/**
 * Token stores: where the token manager keeps tokens between requests.
 *
 * @module
 */
import type { Token } from './token.js';
import type { TokenSourceIdentity } from './source.js';

/**
 * Where tokens are kept. The memory store is the default; `@authrail/redis` shares
 * tokens across a fleet of processes. Methods may be sync or async.
 */
export interface TokenStore {
  /** Returns the token stored under `key`, if any. */
  get(key: string): Promise<Token | undefined> | Token | undefined;
  /** Stores `token` under `key`, replacing what was there. */
  set(key: string, token: Token): Promise<void> | void;
  /**
   * Deletes the token under `key`. With `token`, deletes only if the stored token is that
   * exact token (same access token), so a late rejection of an old token never throws
   * away a newer one.
   */
  delete(key: string, token?: Token): Promise<void> | void;
}

/**
 * Creates an in-process token store backed by a `Map`.
 *
 * @example
 * ```ts
 * const store = createMemoryTokenStore();
 * createAuthStrategy({ source, origins: ['https://api.example'], store });
 * ```
 */
export function createMemoryTokenStore(): TokenStore {
  const tokens = new Map<string, Token>();
  return {
    get: (key) => tokens.get(key),
    set: (key, token) => {
      tokens.set(key, token);
    },
    delete: (key, token) => {
      if (token === undefined || tokens.get(key)?.accessToken === token.accessToken) tokens.delete(key);
    },
  };
}

/**
 * Derives the store key for a source: `authrail:v1:` and the SHA-256 of the token
 * endpoint, client id and scope. Contains no secret, and is the same in every process,
 * so a shared store serves a whole fleet.
 */
export async function tokenStoreKey(identity: TokenSourceIdentity): Promise<string> {
  const material = JSON.stringify([identity.tokenEndpoint, identity.clientId, identity.scope ?? '']);
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(material));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  return `authrail:v1:${hex}`;
}
