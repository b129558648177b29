/**
 * The tab store: the tabs of one browser origin share a user's token and refresh it once,
 * with the Web Locks API and a `BroadcastChannel`. Tokens stay in the tabs' memory; they
 * travel between tabs of the same origin only.
 *
 * @module
 */
import { ConfigError } from './errors.js';
import { checkKnown } from './options.js';
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
  checkKnown(options, 'options', ['name', 'askMs']);
  const name = options.name ?? 'authrail';
  if (typeof name !== 'string' || name.length === 0)
    throw new ConfigError('must be a non-empty string', { option: 'name' });
  const askMs = options.askMs ?? 100;
  if (typeof askMs !== 'number' || !(askMs >= 0 && askMs <= 10_000))
    throw new ConfigError('must be a number of milliseconds from 0 to 10 000', { option: 'askMs' });
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  if (!locks || typeof locks.request !== 'function' || typeof Channel !== 'function')
    return Object.assign(createMemoryTokenStore(), { oneUser: true as const });
  const tabs = new Tabs(new Channel(`${name}:tokens`), askMs);
  return {
    oneUser: true,
    get: (key) => tabs.get(key),
    set: (key, token) => tabs.set(key, token),
    delete: (key, token) => tabs.delete(key, token),
    singleFlight: (key, fetch, { signal, isUsable }: SingleFlightOptions) =>
      locks.request(`${name}:${key}`, { signal }, async () => {
        // The tab before us may have refreshed (its message may still be on its way): ask.
        const current = await tabs.ask(key);
        if (current && isUsable(current)) return current;
        const token = await fetch(current);
        tabs.set(key, token);
        return token;
      }),
  };
}

/** The newer of two tokens, by when they were issued. */
function newer(a: Token | undefined, b: Token | undefined): Token | undefined {
  return !a ? b : !b ? a : b.issuedAt > a.issuedAt ? b : a;
}

/** This tab's tokens, and what it tells and asks the app's other tabs over the channel. */
class Tabs {
  readonly #tokens = new Map<string, Token>();
  readonly #answers = new Map<string, (record: TokenRecord) => void>();
  /** Keys this tab asked the others about already: a new tab asks once. */
  readonly #asked = new Set<string>();

  constructor(
    private readonly channel: BroadcastChannel,
    private readonly askMs: number,
  ) {
    channel.onmessage = ({ data }: MessageEvent<Message>) => this.#receive(data);
  }

  get(key: string): Token | undefined | Promise<Token | undefined> {
    const held = this.#tokens.get(key);
    if (held || this.#asked.has(key)) return held;
    // A new tab: the others may be signed in already.
    this.#asked.add(key);
    return this.ask(key);
  }

  set(key: string, token: Token): void {
    this.#tokens.set(key, token);
    this.#post({ type: 'set', key, record: toTokenRecord(token) });
  }

  delete(key: string, token?: Token): void {
    if (token === undefined || this.#tokens.get(key)?.accessToken === token.accessToken)
      this.#tokens.delete(key);
    this.#post({ type: 'delete', key, ...(token ? { accessToken: token.accessToken } : {}) });
  }

  /** Asks the other tabs what they hold for `key`; resolves with the newest after `askMs`. */
  ask(key: string): Promise<Token | undefined> {
    const id = Math.random().toString(36).slice(2);
    let best: Token | undefined;
    this.#answers.set(id, (record) => {
      best = newer(best, createToken(record));
    });
    this.#post({ type: 'ask', key, id });
    return new Promise((resolve) =>
      setTimeout(() => {
        this.#answers.delete(id);
        if (best && newer(this.#tokens.get(key), best) === best) this.#tokens.set(key, best);
        resolve(this.#tokens.get(key));
      }, this.askMs),
    );
  }

  #post(message: Message): void {
    this.channel.postMessage(message);
  }

  #receive(data: Message): void {
    switch (data.type) {
      case 'set': {
        const token = createToken(data.record);
        if (newer(this.#tokens.get(data.key), token) === token) this.#tokens.set(data.key, token);
        break;
      }
      case 'delete':
        if (data.accessToken === undefined || this.#tokens.get(data.key)?.accessToken === data.accessToken)
          this.#tokens.delete(data.key);
        break;
      case 'ask': {
        const held = this.#tokens.get(data.key);
        if (held) this.#post({ type: 'answer', key: data.key, id: data.id, record: toTokenRecord(held) });
        break;
      }
      case 'answer':
        this.#answers.get(data.id)?.(data.record);
        break;
    }
  }
}
