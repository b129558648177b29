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
  /**
   * Set by a store that only ever holds one user's tokens (a browser's tabs): a user flow
   * then needs no `session` to use it. A store shared by users must not set it.
   */
  readonly oneUser?: true;
  /**
   * Optional: makes a token request single-flight across every process sharing this store
   * (a fleet), as the token manager already makes it within one process. The store runs
   * `fetch` where no other process is running it for `key`; the others wait until the
   * token it stores can be used, instead of asking the token endpoint themselves.
   *
   * `fetch` gets the token stored at that moment (use its refresh token: another process
   * may have rotated it) and resolves with the new token, which the store stores before
   * it lets anyone else fetch. Resolves with the token to use, fetched here or elsewhere.
   * Rejects when the fetch here fails, or when another process's attempt failed and the
   * store says so, so a failing token endpoint is not asked by every process in turn.
   */
  singleFlight?(
    key: string,
    fetch: (current: Token | undefined) => Promise<Token>,
    options: SingleFlightOptions,
  ): Promise<Token>;
}

/** What a store's {@link TokenStore.singleFlight} is told about the token request it coordinates. */
export interface SingleFlightOptions {
  /** Aborted when every caller in this process has given up: stop waiting, release what is held. */
  signal: AbortSignal;
  /** Whether a stored token can be served as it is: one that another process stored ends the wait. */
  isUsable(token: Token): boolean;
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
 * Derives the store key for a source: `authrail:v1:` and the SHA-256 of everything in
 * its {@link TokenSourceIdentity}: token endpoint, client id, scope, the other grant
 * parameters (sorted) and the session. Contains no secret, and is the same in every
 * process, so a shared store serves a whole fleet. Where WebCrypto is unavailable (a
 * page served over plain `http:` from a non-loopback host), a 128-bit FNV-1a hash is
 * used instead, prefixed `authrail:v1f:` so the two never mix.
 */
export async function tokenStoreKey(identity: TokenSourceIdentity): Promise<string> {
  const base = [identity.tokenEndpoint, identity.clientId, identity.scope ?? ''];
  const parameters = Object.entries(identity.parameters ?? {})
    .map(([name, value]): [string, string[]] => [name, [value].flat().map(String).sort()])
    .filter(([, values]) => values.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Identities with nothing more than endpoint, client and scope keep the key they always had.
  const material = JSON.stringify(
    parameters.length || identity.session !== undefined
      ? [...base, parameters, identity.session ?? null]
      : base,
  );
  const bytes = new TextEncoder().encode(material);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return `authrail:v1f:${fnv1a128(bytes)}`;
  const digest = await subtle.digest('SHA-256', bytes);
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  return `authrail:v1:${hex}`;
}

/** FNV-1a, 128-bit: a stable, dependency-free hash for keys (not for secrets). */
export function fnv1a128(bytes: Uint8Array): string {
  const prime = 0x0000000001000000000000000000013bn;
  const mask = (1n << 128n) - 1n;
  let hash = 0x6c62272e07bb014262b821756295c58dn;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * prime) & mask;
  return hash.toString(16).padStart(32, '0');
}
