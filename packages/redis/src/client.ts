/**
 * The few Redis operations the store uses, behind one small interface, and the two
 * adapters that carry them: one for ioredis, one for node-redis (`redis`). The client a
 * user passes is recognised by its shape, not by `instanceof`, so a second copy of either
 * library (CommonJS next to ESM, two versions in one tree) works too.
 *
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError } from '@authrail/core';

/**
 * The parts of a node-redis client that {@link createRedisTokenStore} uses: what
 * `createClient`, `createCluster` and `createSentinel` of the `redis` package (5 or 6)
 * return, connected (`await client.connect()`) by you.
 *
 * A structural type, so `@authrail/redis` does not import `redis`: pass your client as it
 * is. At run time the client is recognised by its shape (node-redis' `isOpen` and its
 * upper-case command methods), not by its class.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { createRedisTokenStore } from '@authrail/redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = createRedisTokenStore({ client });
 * ```
 * @see https://github.com/redis/node-redis
 */
export interface NodeRedisClient {
  /** Whether the client was connected and not closed since (node-redis' own flag). */
  readonly isOpen: boolean;
  /** `GET key`. */
  get(key: string): Promise<unknown>;
  /** `SET key value PX ms`. */
  set(key: string, value: string, options: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  /** `DEL key`. */
  del(key: string): Promise<unknown>;
  /** `EVAL script numkeys keys… args…`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `PUBLISH channel message`. */
  publish(channel: string, message: string): Promise<unknown>;
  /** `SUBSCRIBE channel`, with the listener of its messages (strings, or Buffers in buffer mode). */
  subscribe(channel: string, listener: (message: unknown, channel: unknown) => unknown): Promise<unknown>;
  /** `UNSUBSCRIBE channel` for that listener. */
  unsubscribe(channel: string, listener: (message: unknown, channel: unknown) => unknown): Promise<unknown>;
  /** A new client with the same options; absent on node-redis 5's Sentinel client. */
  duplicate?(): NodeRedisClient;
  /** Connects the client: the store does so for the client it duplicates, never for yours. */
  connect(): Promise<unknown>;
  /** Closes the client at once: the store does so for its own, never for yours. */
  destroy(): unknown;
  /** Listens to the client's events (`error`, `end`; a Cluster's `disconnect`). */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Removes a listener added with `on`. */
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** The Redis operations the store uses, whichever client carries them. */
export interface StoreClient {
  /** `GET key`: the string stored, or `null`. */
  get(key: string): Promise<string | null>;
  /** `SET key value PX ms`. */
  setPx(key: string, value: string, ms: number): Promise<void>;
  /** `DEL key`. */
  del(key: string): Promise<void>;
  /** `EVAL script` on `keys` (one hash slot) with `args`: the script's reply. */
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
  /** `PUBLISH channel message`. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Listens to `channel` on a connection that does not hold up the client's commands, and
   * stays subscribed across reconnects. Returns what ends that subscription.
   */
  subscribe(channel: string, onMessage: (message: string) => void): () => void;
  /** Calls `listener` once when the user's client is closed. */
  onEnd(listener: () => void): void;
}

const functions = (value: object, names: string[]) =>
  names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

/** ioredis' `Redis` and `Cluster`: `status` a string, `defineCommand` a method. */
function isIoredis(value: object): value is Redis | Cluster {
  const shape = value as { status?: unknown };
  return (
    typeof shape.status === 'string' &&
    functions(value, ['defineCommand', 'get', 'set', 'del', 'eval', 'publish', 'duplicate', 'once'])
  );
}

/** node-redis' client, Cluster and Sentinel: `isOpen` a boolean, upper-case command methods. */
function isNodeRedis(value: object): value is NodeRedisClient {
  const shape = value as { isOpen?: unknown };
  return (
    typeof shape.isOpen === 'boolean' &&
    functions(value, [
      'EVAL',
      'get',
      'set',
      'del',
      'eval',
      'publish',
      'subscribe',
      'unsubscribe',
      'on',
      'off',
    ])
  );
}

function fromIoredis(client: Redis | Cluster): StoreClient {
  return {
    get: (key) => client.get(key),
    setPx: async (key, value, ms) => {
      await client.set(key, value, 'PX', ms);
    },
    del: async (key) => {
      await client.del(key);
    },
    eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
    publish: async (channel, message) => {
      await client.publish(channel, message);
    },
    subscribe(channel, onMessage) {
      const sub = (client.duplicate as () => Redis | Cluster).call(client);
      // Without the subscriber, waiters poll and copies live until their token's refresh
      // point: nothing to degrade. ioredis reconnects and subscribes again by itself.
      sub.on('error', () => undefined);
      sub.on('message', (from: string, message: string) => {
        if (from === channel) onMessage(message);
      });
      sub.subscribe(channel).catch(() => undefined);
      return () => sub.disconnect();
    },
    onEnd(listener) {
      client.once('end', listener);
    },
  };
}

/** A reply as the string it holds: node-redis may map strings to Buffers (`RESP` type mapping). */
const text = (reply: unknown): string | null =>
  reply === null || reply === undefined ? null : String(reply);

function fromNodeRedis(client: NodeRedisClient): StoreClient {
  return {
    get: async (key) => text(await client.get(key)),
    setPx: async (key, value, ms) => {
      await client.set(key, value, { expiration: { type: 'PX', value: ms } });
    },
    del: async (key) => {
      await client.del(key);
    },
    eval: (script, keys, args) => client.eval(script, { keys, arguments: args }),
    publish: async (channel, message) => {
      await client.publish(channel, message);
    },
    subscribe(channel, onMessage) {
      const listener = (message: unknown) => onMessage(String(message));
      if (typeof client.duplicate !== 'function') {
        // node-redis 5's Sentinel client: its pub/sub already runs on a connection of its own.
        client.subscribe(channel, listener).catch(() => undefined);
        return () => void client.unsubscribe(channel, listener).catch(() => undefined);
      }
      // A client of the store's own: a node-redis connection that subscribes runs nothing
      // else. node-redis reconnects it and subscribes again by itself.
      const sub = client.duplicate();
      sub.on('error', () => undefined);
      let ended = false;
      const end = () => {
        ended = true;
        Promise.resolve()
          .then(() => sub.destroy())
          .catch(() => undefined);
      };
      // Ended while connecting: node-redis may finish the connection after `destroy()`.
      sub
        .connect()
        .then(() => (ended ? end() : sub.subscribe(channel, listener)))
        .catch(() => undefined);
      return end;
    },
    onEnd(listener) {
      // A client and a Sentinel say `end` when closed; a Cluster says `disconnect`.
      let ended = false;
      const once = () => {
        if (ended) return;
        ended = true;
        client.off('end', once);
        client.off('disconnect', once);
        listener();
      };
      client.on('end', once);
      client.on('disconnect', once);
    },
  };
}

/**
 * The store's view of the client the user passed: ioredis or node-redis, recognised by
 * shape.
 *
 * @throws `ConfigError` naming `client` when it is neither
 */
export function adaptClient(client: unknown): StoreClient {
  if (typeof client === 'object' && client !== null) {
    if (isIoredis(client)) return fromIoredis(client);
    if (isNodeRedis(client)) return fromNodeRedis(client);
  }
  throw new ConfigError(
    'must be an ioredis client (Redis or Cluster) or a node-redis client (createClient, createCluster or createSentinel of `redis`)',
    { option: 'client' },
  );
}
