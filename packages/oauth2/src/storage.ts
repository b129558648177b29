/**
 * Where the authorization code flow keeps its pending state (PKCE verifier, `state`)
 * between leaving for the authorization server and coming back. `sessionStorage` fits
 * in browsers; methods may be sync or async.
 *
 * @example
 * ```ts
 * const storage: FlowStorage = { getItem: (k) => redis.get(k), setItem: (k, v) => void redis.set(k, v), removeItem: (k) => void redis.del(k) };
 * ```
 */
export interface FlowStorage {
  /** The stored value, or null. */
  getItem(key: string): string | null | Promise<string | null>;
  /** Stores a value. */
  setItem(key: string, value: string): void | Promise<void>;
  /** Forgets a value. */
  removeItem(key: string): void | Promise<void>;
}

/**
 * An in-memory {@link FlowStorage}, the default outside browsers.
 *
 * @example
 * ```ts
 * authorizationCode({ server, clientId, redirectUri, storage: createMemoryStorage() })
 * ```
 */
export function createMemoryStorage(): FlowStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** `sessionStorage` when the platform has it, memory otherwise. */
export function defaultStorage(): FlowStorage {
  const session = (globalThis as { sessionStorage?: FlowStorage }).sessionStorage;
  return session ?? createMemoryStorage();
}
