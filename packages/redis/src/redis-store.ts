/**
 * The Redis token store: one token per grant for a whole fleet, one token request at a
 * time across processes, and a copy in each process so a cached request never touches
 * the network.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  ConfigError,
  checkOptions,
  TokenEndpointError,
  createToken,
  isAuthrailError,
  isTokenEndpointError,
  toTokenRecord,
  type ErrorCode,
  type Logger,
  type SingleFlightOptions,
  type Token,
  type TokenRecord,
  type TokenStore,
} from '@authrail/core';
import { createTokenCipher, isSealedValue, type EncryptionOptions, type TokenCipher } from '@authrail/node';
import { adaptClient, type NodeRedisClient, type StoreClient } from './client.js';

/** What a {@link RedisStoreEvents} listener is told when the store stops or resumes sharing. */
export interface RedisStoreEvent {
  /** The Redis operation that failed (or, on `restored`, succeeded again). */
  operation: string;
  /** Why, on `degraded`: the Redis client's message (never a token). */
  reason?: string;
}

/** Listeners for the store's own events. */
export interface RedisStoreEvents {
  /** Redis could not be used: each process now fetches and keeps its own tokens. Said once per outage. */
  degraded?(event: RedisStoreEvent): void;
  /** Redis answers again: tokens are shared again. */
  restored?(event: RedisStoreEvent): void;
}

/** Options of {@link createRedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * Your Redis client, connected, whichever of the two Node.js clients your service holds:
   * an ioredis `Redis` (standalone or Sentinel) or `Cluster`, or a node-redis (`redis` 5
   * or 6) client from `createClient`, `createCluster` or `createSentinel`. Anything else is
   * refused with a `ConfigError` naming `client`.
   */
  client: Redis | Cluster | NodeRedisClient;
  /** Prefix of every key and of the channel. Default `authrail`. */
  prefix?: string;
  /** Encryption at rest (AES-256-GCM, with key ids for rotation). Default: none. */
  encryption?: EncryptionOptions;
  /**
   * How long the process fetching a token holds the fleet's lock without renewing it.
   * It is renewed while the fetch runs; a process that dies holding it is replaced after
   * at most this long. Default 10 000 ms.
   */
  leaseMs?: number;
  /** Deadline of every Redis call; past it the store works without Redis. Default 1 000 ms. */
  commandTimeoutMs?: number;
  /** While waiting for another process's token, how often to look in case a message was missed. Default 250 ms. */
  pollMs?: number;
  /**
   * After a process's token request fails, how long the others take its failure as their
   * own instead of asking the token endpoint each in turn. Default 5 000 ms.
   */
  failureHoldMs?: number;
  /** How long a value with a refresh token is kept after its access token expires. Default 24 h. */
  refreshTokenTtlMs?: number;
  /** How long a token without an expiry is kept. Default 1 h. */
  defaultTtlMs?: number;
  /** Where the store says it lost or regained Redis (`warn` / `info`). */
  logger?: Logger;
  /** Listeners for `degraded` and `restored`. */
  on?: RedisStoreEvents;
}

/** A {@link TokenStore} on Redis; {@link RedisTokenStore.close} ends its own connection. */
export interface RedisTokenStore extends TokenStore {
  /** Ends the store's subscriber connection (your client stays open). Also done when your client ends. */
  close(): Promise<void>;
}

// Values are `fence|fingerprint|payload`: the fence orders writes (a lock holder whose
// lease ran out cannot overwrite a newer token), the fingerprint lets a rejected token be
// deleted only if it is still the stored one, even when the payload is encrypted.
const SET_SCRIPT = `
local f = ARGV[3]
if f == '' then f = redis.call('INCR', KEYS[2]) else f = tonumber(f) end
local cur = redis.call('GET', KEYS[1])
if cur then
  local cf = tonumber(string.match(cur, '^(%d+)|'))
  if cf and cf > f then return 0 end
end
redis.call('SET', KEYS[1], f .. '|' .. ARGV[1], 'PX', ARGV[2])
return 1`;
const DELETE_SCRIPT = `
if ARGV[1] ~= '' then
  local cur = redis.call('GET', KEYS[1])
  if not cur then return 0 end
  if string.match(cur, '^%d+|([^|]*)|') ~= ARGV[1] then return 0 end
end
return redis.call('DEL', KEYS[1])`;
const LOCK_SCRIPT = `
local f = redis.call('INCR', KEYS[2])
if redis.call('SET', KEYS[1], f, 'NX', 'PX', ARGV[1]) then return f end
return 0`;
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** A failure of another process's token request, as the others read it. */
interface SharedFailure {
  code: ErrorCode;
  message: string;
  status?: number;
  error?: string;
  retryAfterMs?: number;
}

const DEFAULTS = {
  prefix: 'authrail',
  leaseMs: 10_000,
  commandTimeoutMs: 1_000,
  pollMs: 250,
  failureHoldMs: 5_000,
  refreshTokenTtlMs: 24 * 3_600_000,
  defaultTtlMs: 3_600_000,
} as const;

function positive(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1)
    throw new ConfigError('must be a positive number of milliseconds (at most 2^31 − 1)', { option });
  return value;
}

function fingerprint(token: Token): string {
  return createHash('sha256').update(token.accessToken).digest('hex').slice(0, 32);
}

class Timeout extends Error {
  constructor(operation: string, ms: number) {
    super(`Redis ${operation} got no answer within ${ms} ms`);
  }
}

/** The options, checked whole and with their defaults. */
interface Settings {
  client: StoreClient;
  prefix: string;
  cipher: TokenCipher | undefined;
  leaseMs: number;
  commandTimeoutMs: number;
  pollMs: number;
  failureHoldMs: number;
  refreshTokenTtlMs: number;
  defaultTtlMs: number;
  logger: Logger | undefined;
  on: RedisStoreEvents | undefined;
}

/** Checks the options, naming the one that is wrong. */
function settingsOf(options: RedisTokenStoreOptions): Settings {
  checkOptions(options, [
    'client',
    'prefix',
    'encryption',
    'leaseMs',
    'commandTimeoutMs',
    'pollMs',
    'failureHoldMs',
    'refreshTokenTtlMs',
    'defaultTtlMs',
    'logger',
    'on',
  ]);
  const client = adaptClient(options.client);
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}|\s]/.test(prefix))
    throw new ConfigError('must be a non-empty string without braces, | or spaces', { option: 'prefix' });
  const { logger, on } = options;
  if (logger !== undefined && (typeof logger !== 'object' || logger === null))
    throw new ConfigError('must be a logger such as console or pino', { option: 'logger' });
  if (on !== undefined && (typeof on !== 'object' || on === null))
    throw new ConfigError('must be an object of listeners', { option: 'on' });
  for (const [name, listener] of Object.entries(on ?? {}))
    if ((name !== 'degraded' && name !== 'restored') || typeof listener !== 'function')
      throw new ConfigError(
        `${name} is not an event of the Redis store (degraded, restored) or not a function`,
        { option: 'on' },
      );
  return {
    client,
    prefix,
    cipher: options.encryption === undefined ? undefined : createTokenCipher(options.encryption),
    leaseMs: positive(options.leaseMs, 'leaseMs', DEFAULTS.leaseMs),
    commandTimeoutMs: positive(options.commandTimeoutMs, 'commandTimeoutMs', DEFAULTS.commandTimeoutMs),
    pollMs: positive(options.pollMs, 'pollMs', DEFAULTS.pollMs),
    failureHoldMs: positive(options.failureHoldMs, 'failureHoldMs', DEFAULTS.failureHoldMs),
    refreshTokenTtlMs: positive(options.refreshTokenTtlMs, 'refreshTokenTtlMs', DEFAULTS.refreshTokenTtlMs),
    defaultTtlMs: positive(options.defaultTtlMs, 'defaultTtlMs', DEFAULTS.defaultTtlMs),
    logger,
    on,
  };
}

/**
 * Every Redis call, with its deadline, and the store's health: after a failure Redis is
 * left alone for a moment (so requests do not each wait for a deadline), then tried again;
 * losing and regaining it is said once each.
 */
class RedisCalls {
  #degradedSince: number | undefined;
  #retryAt = 0;

  constructor(private readonly s: Settings) {}

  /** While Redis is left alone after a failure: the store works without it. */
  bypassed(): boolean {
    return this.#degradedSince !== undefined && Date.now() < this.#retryAt;
  }

  /** One Redis call with its deadline; a failure marks the store degraded and rethrows. */
  async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ms = this.s.commandTimeoutMs;
    // A client may throw instead of rejecting (node-redis on a closed client): the same.
    const pending = new Promise<T>((resolve) => resolve(run()));
    pending.catch(() => undefined); // it may fail after the deadline: nobody waits then
    try {
      const result = await Promise.race([
        pending,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Timeout(operation, ms)), ms);
          timer.unref?.();
        }),
      ]);
      this.#succeeded(operation);
      return result;
    } catch (error) {
      this.#failed(operation, error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Says a line on the logger; a throwing logger must not break token delivery. */
  say(level: 'warn' | 'info', line: string): void {
    try {
      this.s.logger?.[level]?.(line);
    } catch {
      // ignored, as said
    }
  }

  #emit(name: 'degraded' | 'restored', event: RedisStoreEvent): void {
    try {
      this.s.on?.[name]?.(event);
    } catch {
      // nor a throwing listener
    }
  }

  #failed(operation: string, error: unknown): void {
    this.#retryAt = Date.now() + Math.min(this.s.commandTimeoutMs, 1_000);
    if (this.#degradedSince !== undefined) return;
    this.#degradedSince = Date.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.say(
      'warn',
      `authrail: Redis ${operation} failed (${reason}); each process fetches its own tokens until Redis answers again`,
    );
    this.#emit('degraded', { operation, reason });
  }

  #succeeded(operation: string): void {
    if (this.#degradedSince === undefined) return;
    this.#degradedSince = undefined;
    this.say('info', `authrail: Redis answers again (${operation}); tokens are shared again`);
    this.#emit('restored', { operation });
  }
}

/** A token as stored (`fingerprint|payload`, encrypted when asked), and how long it is kept. */
class TokenCodec {
  constructor(
    private readonly s: Settings,
    private readonly say: RedisCalls['say'],
  ) {}

  encode(key: string, token: Token): string {
    const record = JSON.stringify(toTokenRecord(token));
    const { cipher } = this.s;
    const payload = cipher ? JSON.stringify(cipher.seal(record, key)) : record;
    return `${fingerprint(token)}|${payload}`;
  }

  /** The token of a stored value, or undefined (said) when it cannot be read. */
  decode(key: string, stored: string): Token | undefined {
    const payload = stored.slice(stored.indexOf('|', stored.indexOf('|') + 1) + 1);
    const { cipher } = this.s;
    try {
      let json: string | undefined = payload;
      if (cipher) {
        const sealed: unknown = JSON.parse(payload);
        json = isSealedValue(sealed) ? cipher.open(sealed, key) : undefined;
      }
      const record = json === undefined ? undefined : (JSON.parse(json) as Partial<TokenRecord>);
      if (record === undefined || typeof record.accessToken !== 'string') {
        this.say(
          'warn',
          `authrail: a stored token could not be read${cipher ? ' with the encryption keys given' : ''}; fetching a new one`,
        );
        return undefined;
      }
      return createToken(record as TokenRecord);
    } catch {
      this.say('warn', 'authrail: a stored token could not be read; fetching a new one');
      return undefined;
    }
  }

  /** How long Redis keeps a token: its life, and a refresh token's grace beyond it. */
  ttlOf(token: Token): number {
    if (token.expiresAt === undefined) return this.s.defaultTtlMs;
    const left = Math.max(token.expiresAt - Date.now(), 0);
    return Math.max(Math.round(left + (token.refreshToken ? this.s.refreshTokenTtlMs : 0)), 1_000);
  }
}

/** The Redis keys of one token (one hash slot, so Cluster runs the scripts). */
function keysOf(prefix: string, key: string) {
  const base = `${prefix}:{${key}}`;
  return { token: `${base}:token`, fence: `${base}:fence`, lock: `${base}:lock`, failure: `${base}:failure` };
}

/** The store of one process: its copies, its subscriber, and the fleet's rules on Redis. */
class FleetStore {
  /** Each process's copy of each token: what makes a cached request free of Redis. */
  readonly #local = new Map<string, Token>();
  /** Waiters for a change of a key, woken by pub/sub. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #instance = randomBytes(6).toString('hex');
  readonly #channel: string;
  readonly #redis: RedisCalls;
  readonly #codec: TokenCodec;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(private readonly s: Settings) {
    this.#channel = `${s.prefix}:changed`;
    this.#redis = new RedisCalls(s);
    this.#codec = new TokenCodec(s, (level, line) => this.#redis.say(level, line));
  }

  /** Redis is not used: failing (for a moment) or the store closed. */
  #offline(): boolean {
    return this.#redis.bypassed() || this.#closed;
  }

  get(key: string): Token | undefined | Promise<Token | undefined> {
    const held = this.#local.get(key);
    if (held) return held;
    if (this.#offline()) return undefined;
    this.#subscribe();
    return this.#readRemote(key).catch(() => undefined);
  }

  async set(key: string, token: Token): Promise<void> {
    this.#local.set(key, token);
    if (this.#offline()) return;
    await this.#writeRemote(key, token, '').catch(() => undefined);
  }

  async delete(key: string, token?: Token): Promise<void> {
    const held = this.#local.get(key);
    if (token === undefined || held?.accessToken === token.accessToken) this.#local.delete(key);
    if (this.#offline()) return;
    const deleted = await this.#redis
      .call('del', () =>
        this.s.client.eval(
          DELETE_SCRIPT,
          [keysOf(this.s.prefix, key).token],
          [token === undefined ? '' : fingerprint(token)],
        ),
      )
      .catch(() => 0);
    // Only a real change is announced: a late 401 for an older token drops nobody's copy.
    if (Number(deleted) > 0) await this.#announce(key);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const end = this.#unsubscribe;
    this.#unsubscribe = undefined;
    end?.();
  }

  /**
   * One token request in the fleet at a time: the lock holder fetches and stores, the others
   * wait for its token (or its failure, or its lease to end). Without Redis, this process
   * fetches and keeps its own.
   */
  async singleFlight(
    key: string,
    fetch: (current: Token | undefined) => Promise<Token>,
    { signal, isUsable }: SingleFlightOptions,
  ): Promise<Token> {
    const alone = async () => {
      const token = await fetch(this.#local.get(key));
      this.#local.set(key, token);
      return token;
    };
    if (this.#offline()) return alone();
    this.#subscribe();
    const k = keysOf(this.s.prefix, key);
    for (;;) {
      if (signal.aborted) throw signal.reason;
      let fence: number;
      try {
        const failure = await this.#sharedFailure(key);
        if (failure) throw failure;
        fence = Number(
          await this.#redis.call('lock', () =>
            this.s.client.eval(LOCK_SCRIPT, [k.lock, k.fence], [String(this.s.leaseMs)]),
          ),
        );
      } catch (error) {
        if (isAuthrailError(error)) throw error;
        return alone(); // Redis failed: this process fetches its own
      }
      if (fence > 0) return this.#fetchHoldingLock(key, fence, fetch, isUsable);
      // Another process is fetching: wait for its token (or its failure, or its lease to end).
      await this.#changeOf(key, signal);
      try {
        const current = await this.#readRemote(key);
        if (current && isUsable(current)) return current;
      } catch {
        return alone();
      }
    }
  }

  /** The lock is ours (`fence`): renew it while we fetch, store what we got, release it. */
  async #fetchHoldingLock(
    key: string,
    fence: number,
    fetch: (current: Token | undefined) => Promise<Token>,
    isUsable: SingleFlightOptions['isUsable'],
  ): Promise<Token> {
    const { client, leaseMs } = this.s;
    const k = keysOf(this.s.prefix, key);
    const renew = setInterval(() => {
      this.#redis
        .call('renew', () => client.eval(RENEW_SCRIPT, [k.lock], [String(fence), String(leaseMs)]))
        .catch(() => undefined);
    }, leaseMs / 3);
    renew.unref?.();
    try {
      // Someone may have stored a usable token between our look and our lock.
      const current = await this.#readRemote(key).catch(() => this.#local.get(key));
      if (current && isUsable(current)) return current;
      let token: Token;
      try {
        token = await fetch(current);
      } catch (error) {
        await this.#shareFailure(key, error);
        throw error;
      }
      this.#local.set(key, token);
      await this.#writeRemote(key, token, fence).catch(() => undefined);
      await this.#redis.call('del', () => client.del(k.failure)).catch(() => undefined);
      return token;
    } finally {
      clearInterval(renew);
      await this.#redis
        .call('unlock', () => client.eval(UNLOCK_SCRIPT, [k.lock], [String(fence)]))
        .catch(() => undefined);
    }
  }

  // The subscriber: a connection of the store's own, opened on first use, ended with
  // close() or when the user's client ends.
  #subscribe(): void {
    if (this.#unsubscribe || this.#closed) return;
    this.#unsubscribe = this.s.client.subscribe(this.#channel, (message) => this.#changed(message));
    this.s.client.onEnd(() => void this.close());
  }

  /** A message of the channel: `<instance> <fingerprint of the token now stored, or -> <key>`. */
  #changed(message: string): void {
    // A process of an earlier version (a fleet mid-deploy) sends `<instance> <key>`: a
    // change, to anything.
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    const sender = message.slice(0, first);
    const now = second < 0 ? '-' : message.slice(first + 1, second);
    const key = message.slice((second < 0 ? first : second) + 1);
    // A copy of the token now stored stays: the announcement of a change can arrive after
    // this process read the changed value (dropping it would cost a read, or a token
    // request of its own while Redis is failing).
    const held = this.#local.get(key);
    if (sender !== this.#instance && held && (now === '-' || fingerprint(held) !== now))
      this.#local.delete(key);
    const waiting = this.#waiters.get(key);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  /** Tells the other processes the value of `key` changed: to `token`, or away. */
  #announce(key: string, token?: Token): Promise<unknown> {
    const message = `${this.#instance} ${token ? fingerprint(token) : '-'} ${key}`;
    return this.#redis
      .call('publish', () => this.s.client.publish(this.#channel, message))
      .catch(() => undefined);
  }

  async #readRemote(key: string): Promise<Token | undefined> {
    const stored = await this.#redis.call('get', () => this.s.client.get(keysOf(this.s.prefix, key).token));
    const token = stored === null ? undefined : this.#codec.decode(key, stored);
    if (token) this.#local.set(key, token);
    else this.#local.delete(key);
    return token;
  }

  async #writeRemote(key: string, token: Token, fence: number | ''): Promise<void> {
    const k = keysOf(this.s.prefix, key);
    const value = [this.#codec.encode(key, token), String(this.#codec.ttlOf(token)), String(fence)];
    const written = await this.#redis.call('set', () =>
      this.s.client.eval(SET_SCRIPT, [k.token, k.fence], value),
    );
    // Not written: a newer value is there, and its writer announced it.
    if (Number(written) > 0) await this.#announce(key, token);
  }

  /** Until a message about `key`, the poll interval, or the abort; whichever is first. */
  #changeOf(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(key);
      if (!set) this.#waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, this.s.pollMs);
      timer.unref?.();
      set.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async #sharedFailure(key: string): Promise<TokenEndpointError | undefined> {
    const stored = await this.#redis.call('get', () => this.s.client.get(keysOf(this.s.prefix, key).failure));
    if (stored === null) return undefined;
    try {
      const failure = JSON.parse(stored) as SharedFailure;
      return new TokenEndpointError(
        failure.code,
        `${failure.message} (another process's token request; not asked again here)`,
        {
          ...(failure.status === undefined ? {} : { status: failure.status }),
          ...(failure.error === undefined ? {} : { error: failure.error }),
          ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
        },
      );
    } catch {
      return undefined;
    }
  }

  async #shareFailure(key: string, error: unknown): Promise<void> {
    // Only the token endpoint's answers are shared: an abort here is nobody else's business.
    if (!isTokenEndpointError(error)) return;
    const failure: SharedFailure = {
      code: error.code,
      message: error.message,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.error === undefined ? {} : { error: error.error }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
    const hold = Math.max(this.s.failureHoldMs, error.retryAfterMs ?? 0);
    const failureKey = keysOf(this.s.prefix, key).failure;
    await this.#redis
      .call('set', () => this.s.client.setPx(failureKey, JSON.stringify(failure), hold))
      .catch(() => undefined);
    await this.#announce(key);
  }
}

/**
 * Creates a token store on your Redis client (ioredis or node-redis), for a fleet of processes (or pods) that
 * call the same APIs: they share one token per grant, and a token request runs in one
 * process at a time while the others wait for its result (a lease lock with a fencing
 * token, released on failure, expiring if its holder dies; pub/sub to wake the waiters,
 * polling in case a message is lost). Each process keeps a copy of each token, dropped
 * when another process changes it, so a request with a cached token does not touch
 * Redis. Works on a single Redis, Sentinel and Redis Cluster (a token's keys share a
 * hash slot), through ioredis or node-redis (`redis`), recognised by the client's shape. When Redis fails or is slow, every process fetches its own tokens, with
 * the `degraded` event; sharing resumes when Redis answers again.
 *
 * @param options - your client, and optionally encryption, timing and listeners
 * @returns the store, for `store` of any strategy or preset
 * @throws `ConfigError` (from `@authrail/core`) naming the option that is wrong
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisTokenStore } from '@authrail/redis';
 *
 * const store = createRedisTokenStore({ client: new Redis(process.env.REDIS_URL!) });
 * const strategy = mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001', store });
 * ```
 * @example node-redis
 * ```ts
 * import { createClient } from 'redis';
 * import { createRedisTokenStore } from '@authrail/redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = createRedisTokenStore({ client });
 * ```
 * @see https://github.com/redis/ioredis
 * @see https://github.com/redis/node-redis
 */
export function createRedisTokenStore(options: RedisTokenStoreOptions): RedisTokenStore {
  const store = new FleetStore(settingsOf(options));
  return {
    get: (key) => store.get(key),
    set: (key, token) => store.set(key, token),
    delete: (key, token) => store.delete(key, token),
    singleFlight: (key, fetch, flight) => store.singleFlight(key, fetch, flight),
    close: () => store.close(),
  };
}
