/**
 * The tab store: the tabs of one browser origin share a user's token and refresh it once,
 * with the Web Locks API and a `BroadcastChannel`. Tokens stay in the tabs' memory; they
 * travel between tabs of the same origin only.
 *
 * @module
 */
import { ConfigError } from './errors.js';
import { createMemoryTokenStore, type SingleFlightOptions, type TokenStore } from './store.js';
import { createToken, toTokenRecord, type Token, type TokenRecord } from './token.js';

/** Options of {@link createTabTokenStore}. */
export interface TabTokenStoreOptions {
  /** Name of the lock and the channel; tabs with the same name share tokens. Default `authrail`. */
  name?: string;
  /** How long a tab that needs a token waits for the others to say what they hold. Default 100 ms. */
  askMs?: number;
}

type Message =
  | { type: 'set'; key: string; record: TokenRecord }
  | { type: 'delete'; key: string; accessToken?: string }
  | { type: 'ask'; key: string; id: string }
  | { type: 'answer'; key: string; id: string; record: TokenRecord };

/** What the Web Locks API offers, as far as the store needs it. */
interface Locks {
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
}

/**
 * Creates a token store for the tabs of one browser origin (one user): each tab keeps the
 * token in memory, a token one tab fetches or refreshes reaches the others over a
 * `BroadcastChannel`, and a token request runs in one tab at a time under a Web Lock,
 * after asking the other tabs what they hold, so a rotated refresh token is never used
 * twice. Signing out in one tab clears every tab. Where either API is missing (older
 * browsers, Node), it is a memory store: each tab refreshes on its own.
 *
 * The Medblocks browser preset uses it by default. Since it holds one user's tokens, a
 * user flow needs no `session` with it.
 *
 * @param options - the name tabs share tokens under, and how long to ask the others
 * @returns the store, for `store` of an authorization-code strategy
 * @throws {@link ConfigError} naming `name` or `askMs` when either is not one
 * @example
 * ```ts
 * const strategy = createAuthStrategy({ source: authorizationCode({ … }), origins, store: createTabTokenStore() });
 * ```
 */
export function createTabTokenStore(options: TabTokenStoreOptions = {}): TokenStore {
  const name = options.name ?? 'authrail';
  if (typeof name !== 'string' || name.length === 0)
    throw new ConfigError('must be a non-empty string', { option: 'name' });
  const askMs = options.askMs ?? 100;
  if (typeof askMs !== 'number' || !(askMs >= 0 && askMs <= 10_000))
    throw new ConfigError('must be a number of milliseconds from 0 to 10 000', { option: 'askMs' });
  const memory = createMemoryTokenStore();
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  if (!locks || typeof locks.request !== 'function' || typeof Channel !== 'function')
    return Object.assign(memory, { oneUser: true as const });

  const tokens = new Map<string, Token>();
  const answers = new Map<string, (record: TokenRecord) => void>();
  const channel = new Channel(`${name}:tokens`);
  const post = (message: Message) => channel.postMessage(message);
  const newer = (a: Token | undefined, b: Token | undefined) =>
    !a ? b : !b ? a : b.issuedAt > a.issuedAt ? b : a;

  channel.onmessage = ({ data }: MessageEvent<Message>) => {
    switch (data.type) {
      case 'set': {
        const token = createToken(data.record);
        if (newer(tokens.get(data.key), token) === token) tokens.set(data.key, token);
        break;
      }
      case 'delete':
        if (data.accessToken === undefined || tokens.get(data.key)?.accessToken === data.accessToken)
          tokens.delete(data.key);
        break;
      case 'ask': {
        const held = tokens.get(data.key);
        if (held) post({ type: 'answer', key: data.key, id: data.id, record: toTokenRecord(held) });
        break;
      }
      case 'answer':
        answers.get(data.id)?.(data.record);
        break;
    }
  };

  /** Asks the other tabs what they hold for `key`; resolves with the newest after `askMs`. */
  function ask(key: string): Promise<Token | undefined> {
    const id = Math.random().toString(36).slice(2);
    let best: Token | undefined;
    answers.set(id, (record) => {
      best = newer(best, createToken(record));
    });
    post({ type: 'ask', key, id });
    return new Promise((resolve) =>
      setTimeout(() => {
        answers.delete(id);
        if (best && newer(tokens.get(key), best) === best) tokens.set(key, best);
        resolve(tokens.get(key));
      }, askMs),
    );
  }
  const asked = new Set<string>();

  return {
    oneUser: true,
    get(key) {
      const held = tokens.get(key);
      if (held || asked.has(key)) return held;
      // A new tab: the others may be signed in already.
      asked.add(key);
      return ask(key);
    },
    set(key, token) {
      tokens.set(key, token);
      post({ type: 'set', key, record: toTokenRecord(token) });
    },
    delete(key, token) {
      if (token === undefined || tokens.get(key)?.accessToken === token.accessToken) tokens.delete(key);
      post({ type: 'delete', key, ...(token ? { accessToken: token.accessToken } : {}) });
    },
    singleFlight(
      key: string,
      fetch: (current: Token | undefined) => Promise<Token>,
      { signal, isUsable }: SingleFlightOptions,
    ) {
      return locks.request(`${name}:${key}`, { signal }, async () => {
        // The tab before us may have refreshed (its message may still be on its way): ask.
        const current = await ask(key);
        if (current && isUsable(current)) return current;
        const token = await fetch(current);
        tokens.set(key, token);
        post({ type: 'set', key, record: toTokenRecord(token) });
        return token;
      });
    },
  };
}
