import { once } from 'node:events';
import { Redis } from 'ioredis';
import { createClient, createSentinel } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  createAuthStrategy,
  createToken,
  createTokenManager,
  isConfigError,
  isTokenEndpointError,
  type Token,
  type TokenSource,
} from '@authrail/core';
import { fakeSource, startRedis, startRedisSentinel, type RedisServer } from '@authrail/test-utils';
import {
  createRedisTokenStore,
  type RedisStoreEvent,
  type RedisTokenStore,
  type RedisTokenStoreOptions,
} from './index.js';

type Client = RedisTokenStoreOptions['client'];

let redis: RedisServer;
/** What ends each client a test opened, so none outlives it. */
const opened: (() => void)[] = [];
const stores: RedisTokenStore[] = [];
/** The commands each client sent, by name. */
const sent = new WeakMap<object, string[]>();

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const end of opened.splice(0)) end();
});

/** The two clients the store takes, each as a fleet's process would hold it. */
interface Library {
  /** A client of its own to `port`, connecting; the commands it sends are counted. */
  connect(port: number): Client;
  /** A client through the Sentinel on `port`, for the master monitored as `name`. */
  sentinel(port: number, name: string): Client;
  /** Resolves once `client` is connected (again). */
  ready(client: Client): Promise<void>;
  /** Closes `client`, as a service does when it shuts down. */
  end(client: Client): void;
}

const ioredis: Library = {
  connect(port) {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    c.on('error', () => undefined); // a user's client: its errors are the user's (the store has its own listener)
    opened.push(() => c.disconnect());
    const commands: string[] = [];
    sent.set(c, commands);
    const send = c.sendCommand.bind(c);
    c.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      commands.push(command.name);
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof c.sendCommand;
    return c;
  },
  sentinel(port, name) {
    const c = new Redis({ sentinels: [{ host: '127.0.0.1', port }], name });
    c.on('error', () => undefined);
    opened.push(() => c.disconnect());
    return c;
  },
  ready: (client) => {
    const c = client as Redis;
    return c.status === 'ready' ? Promise.resolve() : once(c, 'ready').then(() => undefined);
  },
  end: (client) => (client as Redis).disconnect(),
};

/** The methods of a node-redis client that send a command (its commands go through none we can wrap). */
const COMMANDS = new Set(['get', 'set', 'del', 'eval', 'publish', 'sendCommand']);

let sentinels = 0;

const nodeRedis: Library = {
  connect(port) {
    const c = createClient({ socket: { host: '127.0.0.1', port } });
    c.on('error', () => undefined);
    c.connect().catch(() => undefined); // commands wait in node-redis' queue meanwhile
    opened.push(() => c.destroy());
    const commands: string[] = [];
    // Counted where the store calls them; the client itself as `this` (it has private fields).
    const counted = new Proxy(c, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver === counted ? target : receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (typeof name === 'string' && COMMANDS.has(name)) commands.push(name);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    sent.set(counted, commands);
    return counted;
  },
  sentinel(port, name) {
    const c = createSentinel({ name, sentinelRootNodes: [{ host: '127.0.0.1', port }] });
    c.on('error', () => undefined);
    c.connect().catch(() => undefined);
    opened.push(() => void c.destroy().catch(() => undefined));
    // Every other one as node-redis 5's Sentinel client, which has no duplicate(): the store
    // subscribes on the client itself (its pub/sub has a connection of its own).
    if ((sentinels += 1) % 2 === 1) return c;
    return new Proxy(c, {
      get: (target, name) => {
        if (name === 'duplicate') return undefined;
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  },
  ready: (client) => {
    const c = client as unknown as { isReady: boolean; once(event: 'ready', listener: () => void): unknown };
    return c.isReady ? Promise.resolve() : new Promise<void>((resolve) => void c.once('ready', resolve));
  },
  end: (client) => void (client as unknown as { destroy(): unknown }).destroy(),
};

/** An ioredis client of the test's own, to look at and change what is in Redis. */
function admin(port = redis.port): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  opened.push(() => c.disconnect());
  return c;
}

const token = (accessToken: string, expiresIn = 3600, refreshToken?: string) =>
  createToken({ accessToken, expiresIn, ...(refreshToken ? { refreshToken } : {}) });

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until `done()` says so; `failure` past 2 s. */
async function until(done: () => Promise<boolean>, failure: string): Promise<void> {
  for (let i = 0; !(await done()); i += 1) {
    if (i > 100) throw new Error(failure);
    await settle(20);
  }
}

/** How many connections to the standalone server are subscribed to a channel. */
async function subscribers(): Promise<number> {
  const list = (await admin().call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((line) => / sub=[1-9]/.test(line)).length;
}

describe.each([
  ['ioredis', ioredis],
  ['node-redis', nodeRedis],
] as const)('on %s', (_name, library) => {
  /** A client of its own, as each process of a fleet has. */
  const client = () => library.connect(redis.port);
  const commandsOf = (c: Client) => sent.get(c)!;
  // Each library's run starts from an empty Redis: the tests use fixed prefixes.
  beforeAll(async () => {
    await admin().flushall();
  });

  function store(options: Partial<RedisTokenStoreOptions> = {}): RedisTokenStore {
    const s = createRedisTokenStore({
      client: client(),
      prefix: `t${Math.random().toString(36).slice(2)}`,
      ...options,
    });
    stores.push(s);
    return s;
  }

  describe('a token store shared by processes', () => {
    test('a token one process stores, another reads; both keep a copy', async () => {
      const prefix = 'shared';
      const a = store({ prefix });
      const b = store({ prefix });
      await a.set('k', token('token-from-a', 3600, 'refresh-from-a'));
      const read = (await b.get('k')) as Token;
      expect(read.accessToken).toBe('token-from-a');
      expect(read.refreshToken).toBe('refresh-from-a');
      expect(read.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
      expect(b.get('k')).toBe(read); // the copy, synchronously: no promise, no Redis
    });

    test('the value lives as long as the token: PTTL ≈ its remaining life (plus a while for a refresh token)', async () => {
      const s = store({ prefix: 'ttl' });
      await s.set('k', token('short-lived-token', 120));
      const c = admin();
      const ttl = await c.pttl('ttl:{k}:token');
      expect(ttl).toBeGreaterThan(110_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
      await s.set('r', token('with-refresh-token', 120, 'refresh-token-value'));
      expect(await c.pttl('ttl:{r}:token')).toBeGreaterThan(24 * 3_600_000);
    });

    test('keys share a hash slot per token (Redis Cluster) and hold no secret', async () => {
      const s = store({ prefix: 'slots' });
      await s.set('authrail:v1:abc', token('the-secret-access-token'));
      const names = await admin().keys('slots:*');
      expect(names.sort()).toEqual(['slots:{authrail:v1:abc}:fence', 'slots:{authrail:v1:abc}:token']);
      for (const name of names) expect(name).not.toContain('the-secret-access-token');
    });

    test('a change in one process drops the others’ copies (pub/sub); delete removes only the token it names', async () => {
      const prefix = 'invalidate';
      const a = store({ prefix });
      const b = store({ prefix });
      await a.set('k', token('first-token-value'));
      expect(((await b.get('k')) as Token).accessToken).toBe('first-token-value');
      await settle(); // b's subscription is up
      await a.delete('k', token('some-other-token')); // a late 401 for an older token
      await settle();
      expect((b.get('k') as Token | undefined)?.accessToken).toBe('first-token-value');
      await a.delete('k', token('first-token-value'));
      await settle();
      expect(await b.get('k')).toBeUndefined();
    });

    test('an announcement of the token a process already holds keeps its copy; of another token drops it', async () => {
      // The announcement of a write can arrive after the other process has read what was
      // written: dropping that copy would cost a read (and, with Redis failing, a token request).
      const prefix = 'announced';
      const a = store({ prefix });
      const b = store({ prefix });
      const first = token('announced-token-one');
      await a.set('k', first);
      const read = (await b.get('k')) as Token;
      await settle(); // b's subscription is up
      await a.set('k', first); // written again, announced again
      await settle();
      expect(b.get('k')).toBe(read); // still the copy: no promise, no Redis
      await a.set('k', token('announced-token-two'));
      await settle();
      const next = b.get('k');
      expect(next).toBeInstanceOf(Promise); // the copy dropped: read from Redis
      expect(((await next) as Token).accessToken).toBe('announced-token-two');
      // A process of an earlier version announces `<instance> <key>`: the copy is dropped too.
      const held = b.get('k');
      expect(held).not.toBeInstanceOf(Promise);
      await admin().publish(`${prefix}:changed`, 'earlier-version k');
      await settle();
      expect(b.get('k')).toBeInstanceOf(Promise);
    });

    test('a cached request does not touch Redis: 0 commands for 100 requests', async () => {
      const c = client();
      const s = createRedisTokenStore({ client: c, prefix: 'fast' });
      stores.push(s);
      const source = fakeSource();
      const strategy = createAuthStrategy({ source, origins: ['https://api.example.org'], store: s });
      const transport = () =>
        Promise.resolve({ status: 200, headers: new Headers(), url: '', discard: () => undefined });
      const send = () =>
        strategy.send(
          { method: 'GET', url: new URL('https://api.example.org/x'), headers: new Headers() },
          transport,
        );
      await send();
      await settle();
      commandsOf(c).length = 0;
      for (let i = 0; i < 100; i++) await send();
      expect(commandsOf(c)).toEqual([]);
      expect(source.calls).toHaveLength(1);
    });
  });
  test('your client closed: the store closes its own subscriber connection too, so the process can end', async () => {
    const c = client();
    const s = store({ client: c });
    await s.get('k'); // subscribes
    await until(async () => (await subscribers()) === 1, 'the store never subscribed');
    library.end(c);
    await until(async () => (await subscribers()) === 0, 'the subscriber connection outlived the client');
  });

  test('closed while its subscriber connection is still being made: that connection does not stay open', async () => {
    // node-redis may finish a connection after destroy(): a store closed right after its first
    // read left a subscriber behind, and the process never ended by itself.
    const s = store();
    const read = s.get('k'); // starts connecting the subscriber
    await s.close();
    await read;
    await settle(300);
    expect(await subscribers()).toBe(0);
  });

  describe('one token request at a time across processes', () => {
    /** A token endpoint shared by every "process", slow enough for them to overlap. */
    function endpoint(delayMs = 100) {
      let issued = 0;
      const source: TokenSource = {
        identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'fleet' },
        fetchToken: async () => {
          issued += 1;
          await settle(delayMs);
          return createToken({ accessToken: `fleet-token-${issued}`, expiresIn: 3600 });
        },
      };
      return { source, issued: () => issued };
    }

    test('8 processes on a cold cache, all at once: 1 token request, every one gets that token', async () => {
      const { source, issued } = endpoint();
      const managers = Array.from({ length: 8 }, () =>
        createTokenManager({ source, store: store({ prefix: 'cold' }) }),
      );
      const tokens = await Promise.all(managers.map((m) => m.getToken()));
      expect(issued()).toBe(1);
      expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['fleet-token-1']));
    });

    test('a revoked token: 1 new token for the whole fleet', async () => {
      const { source, issued } = endpoint(50);
      const managers = Array.from({ length: 6 }, () =>
        createTokenManager({ source, store: store({ prefix: 'revoked' }) }),
      );
      const first = await Promise.all(managers.map((m) => m.getToken()));
      expect(issued()).toBe(1);
      // Every process sees a 401 for the token it holds, at about the same time.
      await Promise.all(managers.map((m, i) => m.invalidate(first[i]!)));
      const second = await Promise.all(managers.map((m) => m.getToken()));
      expect(issued()).toBe(2);
      expect(new Set(second.map((t) => t.accessToken))).toEqual(new Set(['fleet-token-2']));
    });

    test('a failing token endpoint is asked once for the fleet, not by each process in turn', async () => {
      const source = fakeSource();
      for (let i = 0; i < 10; i++) source.steps.push({ kind: 'fail', status: 401, error: 'invalid_client' });
      const managers = Array.from({ length: 5 }, () =>
        createTokenManager({ source, store: store({ prefix: 'failing' }), retry: { failureCooldownMs: 0 } }),
      );
      const results = await Promise.allSettled(managers.map((m) => m.getToken()));
      expect(results.every((r) => r.status === 'rejected' && isTokenEndpointError(r.reason))).toBe(true);
      expect(source.calls).toHaveLength(1);
    });

    test('a lock holder whose lease ran out (paused past it) cannot overwrite the newer token of the next holder: the fence', async () => {
      const prefix = `fence${Math.random().toString(36).slice(2)}`;
      const key = 'k';
      const redisNow = admin();
      // Process A is paused mid-fetch (a long GC, SIGSTOP): its renewals never reach Redis.
      // (Both clients take the script first: `eval(script, numkeys, …)`, `eval(script, { keys })`.)
      const paused = client() as { eval(script: string, ...rest: unknown[]): Promise<unknown> };
      const send = paused.eval.bind(paused);
      paused.eval = (script, ...rest) =>
        script.includes('PEXPIRE') ? Promise.resolve(0) : send(script, ...rest);
      const a = createRedisTokenStore({ client: paused as Client, prefix, leaseMs: 300 });
      stores.push(a);
      const b = store({ prefix, leaseMs: 10_000 });
      const options = () => ({ signal: new AbortController().signal, isUsable: () => true });

      let resume!: (token: Token) => void;
      let fetching!: () => void;
      const aFetching = new Promise<void>((resolve) => (fetching = resolve));
      const aDone = a.singleFlight!(
        key,
        () => {
          fetching();
          return new Promise<Token>((resolve) => (resume = resolve));
        },
        options(),
      );
      await aFetching;
      expect(await redisNow.get(`${prefix}:{${key}}:lock`)).toBe('1'); // A holds the lock, fence 1
      // A's lease runs out (nothing renews it); B takes the lock with a newer fence and writes.
      for (let i = 0; (await redisNow.exists(`${prefix}:{${key}}:lock`)) === 1; i += 1) {
        if (i > 400) throw new Error('the lease of the paused holder never ran out');
        await settle(25);
      }
      const newer = await b.singleFlight!(key, () => Promise.resolve(token('newer-token-from-b')), options());
      expect(newer.accessToken).toBe('newer-token-from-b');
      expect(await redisNow.get(`${prefix}:{${key}}:token`)).toMatch(/^2\|/);
      await settle(); // b's subscription is up

      // A wakes up and finishes its fetch: its write carries fence 1, older than the stored 2.
      resume(token('stale-token-from-a'));
      await aDone;
      const raw = (await redisNow.get(`${prefix}:{${key}}:token`))!;
      expect(raw).toMatch(/^2\|/);
      expect(((await store({ prefix }).get(key)) as Token).accessToken).toBe('newer-token-from-b');
      await settle();
      expect((b.get(key) as Token | undefined)?.accessToken).toBe('newer-token-from-b'); // nothing announced
    });

    test('a rotated refresh token is used by the next process, never the spent one', async () => {
      const seen: (string | undefined)[] = [];
      let issued = 0;
      const source: TokenSource = {
        identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'rotating' },
        fetchToken: ({ refreshToken }) => {
          seen.push(refreshToken);
          issued += 1;
          return Promise.resolve(
            createToken({
              accessToken: `rotating-${issued}`,
              expiresIn: 3600,
              refreshToken: `refresh-${issued}`,
            }),
          );
        },
      };
      const [a, b] = [store({ prefix: 'rotate' }), store({ prefix: 'rotate' })];
      const ma = createTokenManager({ source, store: a });
      const mb = createTokenManager({ source, store: b });
      const t1 = await ma.getToken();
      await mb.getToken(); // b now holds a copy of t1 and its refresh-1
      await ma.invalidate(t1); // a refreshes with refresh-1 → refresh-2
      await ma.getToken();
      await settle();
      await mb.invalidate(await mb.getToken()); // b's next refresh must use refresh-2
      await mb.getToken();
      expect(seen).toEqual([undefined, 'refresh-1', 'refresh-2']);
    });
  });

  describe('encryption at rest', () => {
    const keyA = Buffer.alloc(32, 1).toString('base64');
    const keyB = Buffer.alloc(32, 2).toString('base64');

    test('the value in Redis holds no token; without the key it cannot be read', async () => {
      const sealed = store({ prefix: 'enc', encryption: { current: 'a', keys: { a: keyA } } });
      await sealed.set('k', token('plain-access-token-value', 3600, 'plain-refresh-token-value'));
      const raw = (await admin().get('enc:{k}:token'))!;
      expect(raw).not.toContain('plain-access-token-value');
      expect(raw).not.toContain('plain-refresh-token-value');
      expect(await store({ prefix: 'enc' }).get('k')).toBeUndefined();
      expect(
        await store({ prefix: 'enc', encryption: { current: 'b', keys: { b: keyB } } }).get('k'),
      ).toBeUndefined();
    });

    test('after rotation, values written with the old key are read while its id is kept', async () => {
      const old = store({ prefix: 'rotation', encryption: { current: 'a', keys: { a: keyA } } });
      await old.set('k', token('written-with-key-a'));
      const rotated = store({ prefix: 'rotation', encryption: { current: 'b', keys: { a: keyA, b: keyB } } });
      expect(((await rotated.get('k')) as Token).accessToken).toBe('written-with-key-a');
      await rotated.set('k2', token('written-with-key-b'));
      expect(
        await store({ prefix: 'rotation', encryption: { current: 'a', keys: { a: keyA } } }).get('k2'),
      ).toBeUndefined();
    });

    test('bad encryption options are refused at construction, naming the option and no key', () => {
      const c = client();
      for (const encryption of [
        { current: 'a', keys: { a: 'c2hvcnQ=' } },
        { current: 'x', keys: { a: keyA } },
        'key',
      ]) {
        let error: unknown;
        try {
          createRedisTokenStore({ client: c, encryption: encryption as never });
        } catch (e) {
          error = e;
        }
        expect(isConfigError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^encryption: /);
        expect((error as Error).message).not.toContain(keyA);
      }
    });
  });

  describe('Redis failing', () => {
    test('Redis stopped: every request still gets a token (per process), the event is seen; back: shared again', async () => {
      const events: [string, RedisStoreEvent][] = [];
      const on = {
        degraded: (e: RedisStoreEvent) => events.push(['degraded', e]),
        restored: (e: RedisStoreEvent) => events.push(['restored', e]),
      };
      const { source, issued } = (() => {
        let n = 0;
        const s: TokenSource = {
          identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'outage' },
          fetchToken: () => Promise.resolve(createToken({ accessToken: `outage-${++n}`, expiresIn: 3600 })),
        };
        return { source: s, issued: () => n };
      })();
      const options = { prefix: 'outage', on, commandTimeoutMs: 200 };
      const clientsOf = [0, 1, 2].map(() => client());
      const managers = clientsOf.map((c) =>
        createTokenManager({ source, store: store({ ...options, client: c }) }),
      );
      await Promise.all(managers.map((m) => m.getToken()));
      expect(issued()).toBe(1);

      await redis.stop();
      const during = await Promise.all(
        managers.map(async (m, i) => m.invalidate(await m.getToken()).then(() => i)),
      );
      const tokens = await Promise.all(managers.map((m) => m.getToken()));
      expect(during).toHaveLength(3);
      expect(tokens.every((t) => t.accessToken.startsWith('outage-'))).toBe(true);
      expect(issued()).toBe(4); // each process on its own
      expect(events.map(([n]) => n)).toEqual(['degraded', 'degraded', 'degraded']); // once per process

      await redis.start();
      // Each client reconnects on its own backoff; then past the store's pause before trying Redis again.
      await Promise.all(clientsOf.map((c) => library.ready(c)));
      await settle(300);
      const held = await Promise.all(managers.map((m) => m.getToken()));
      await Promise.all(managers.map((m, i) => m.invalidate(held[i]!)));
      const shared = await Promise.all(managers.map((m) => m.getToken()));
      expect(issued()).toBe(5); // shared again: one for all three
      expect(new Set(shared.map((t) => t.accessToken)).size).toBe(1);
      expect(events.filter(([n]) => n === 'restored')).toHaveLength(3);
    }, 30_000);

    test('Redis slow (CLIENT PAUSE): nothing waits past commandTimeoutMs; the token comes per process, then sharing resumes', async () => {
      const events: string[] = [];
      const on = { degraded: () => events.push('degraded'), restored: () => events.push('restored') };
      const source = fakeSource();
      const managers = [0, 1].map(() =>
        createTokenManager({ source, store: store({ prefix: 'slow', on, commandTimeoutMs: 150 }) }),
      );
      await admin().call('CLIENT', 'PAUSE', '1500', 'ALL');
      const started = Date.now();
      const tokens = await Promise.all(managers.map((m) => m.getToken()));
      expect(Date.now() - started).toBeLessThan(1_000); // not the 1.5 s pause
      expect(tokens).toHaveLength(2);
      expect(events).toContain('degraded');
      await settle(1_800); // the pause is over, and the store's pause before trying again
      await Promise.all(managers.map(async (m) => m.invalidate(await m.getToken())));
      const calls = source.calls.length;
      const again = await Promise.all(managers.map((m) => m.getToken()));
      expect(source.calls.length - calls).toBe(1); // shared again
      expect(again[0]!.accessToken).toBe(again[1]!.accessToken);
      expect(events).toContain('restored');
    }, 20_000);

    test('bad options are refused at construction, naming the option', () => {
      const c = client();
      const cases: [Record<string, unknown>, string][] = [
        [{ client: {} }, 'client'],
        [{ client: c, prefix: 'a{b}' }, 'prefix'],
        [{ client: c, leaseMs: 0 }, 'leaseMs'],
        [{ client: c, commandTimeoutMs: 'fast' }, 'commandTimeoutMs'],
        [{ client: c, pollMs: 2 ** 31 }, 'pollMs'],
        [{ client: c, on: { expired: () => undefined } }, 'on'],
        [{ client: c, logger: 'console' }, 'logger'],
      ];
      for (const [options, option] of cases) {
        let error: unknown;
        try {
          createRedisTokenStore(options as never);
        } catch (e) {
          error = e;
        }
        expect({ option, error: isConfigError(error) && (error as { option?: string }).option }).toEqual({
          option,
          error: option,
        });
      }
    });
  });

  describe('Redis Sentinel', () => {
    test('through Sentinel: shared tokens, one token request for 4 processes; across a failover, tokens meanwhile and shared after', async () => {
      const sentinel = await startRedisSentinel();
      try {
        const source = fakeSource();
        // Connected, as a service hands its client over (node-redis' Sentinel client does not
        // queue commands until it has found the master).
        const connected = [0, 1, 2, 3].map(() => library.sentinel(sentinel.port, sentinel.name));
        await Promise.all(connected.map((c) => library.ready(c)));
        const managers = connected.map((c) => {
          const s = createRedisTokenStore({ client: c, prefix: 'sentinel' });
          stores.push(s);
          return createTokenManager({ source, store: s });
        });
        const tokens = await Promise.all(managers.map((m) => m.getToken()));
        expect(source.calls).toHaveLength(1);
        expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);

        // Failover: the master is lost; every request still gets a token meanwhile.
        await sentinel.master.stop(true);
        await Promise.all(managers.map(async (m) => m.invalidate(await m.getToken())));
        const during = await Promise.all(managers.map((m) => m.getToken()));
        expect(during).toHaveLength(4);
        // The Sentinel promotes the replica; the clients follow it; sharing resumes.
        const probe = admin(sentinel.port);
        for (let i = 0; ; i += 1) {
          const [, port] = (await probe.call(
            'SENTINEL',
            'get-master-addr-by-name',
            sentinel.name,
          )) as string[];
          if (Number(port) === sentinel.replica.port) break;
          if (i > 100) throw new Error('no failover');
          await settle(100);
        }
        await settle(1_500);
        await Promise.all(managers.map(async (m) => m.invalidate(await m.getToken())));
        const calls = source.calls.length;
        const after = await Promise.all(managers.map((m) => m.getToken()));
        expect(source.calls.length - calls).toBe(1);
        expect(new Set(after.map((t) => t.accessToken)).size).toBe(1);
      } finally {
        for (const s of stores.splice(0)) await s.close();
        for (const end of opened.splice(0)) end();
        await sentinel.stop();
      }
    }, 60_000);
  });
});

describe('a fleet mid-migration, some processes on ioredis, some on node-redis', () => {
  test('they share one token and one token request', async () => {
    const { source, calls } = (() => {
      let n = 0;
      const s: TokenSource = {
        identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'mixed' },
        fetchToken: async () => {
          n += 1;
          await settle(50);
          return createToken({ accessToken: `mixed-${n}`, expiresIn: 3600 });
        },
      };
      return { source: s, calls: () => n };
    })();
    const managers = [ioredis, nodeRedis, ioredis, nodeRedis].map((library) => {
      const s = createRedisTokenStore({ client: library.connect(redis.port), prefix: 'mixed' });
      stores.push(s);
      return createTokenManager({ source, store: s });
    });
    const tokens = await Promise.all(managers.map((m) => m.getToken()));
    expect(calls()).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['mixed-1']));
    await settle(); // the subscriptions are up
    await Promise.all(managers.map((m, i) => m.invalidate(tokens[i]!)));
    const next = await Promise.all(managers.map((m) => m.getToken()));
    expect(calls()).toBe(2);
    expect(new Set(next.map((t) => t.accessToken))).toEqual(new Set(['mixed-2']));
  });
});

describe('a client that is neither ioredis nor node-redis', () => {
  // Regression (issue 23): a client of another shape was taken, every script then failed, and
  // each process quietly fetched and kept its own token.
  test('is refused at construction with a ConfigError naming `client`', () => {
    const scriptless = { get: () => Promise.resolve(null), set: () => Promise.resolve('OK') };
    for (const client of [{}, scriptless, new Map(), 'redis://127.0.0.1:6379', null, undefined]) {
      let error: unknown;
      try {
        createRedisTokenStore({ client } as never);
      } catch (e) {
        error = e;
      }
      expect(isConfigError(error)).toBe(true);
      expect((error as { option?: string }).option).toBe('client');
      expect((error as Error).message).toMatch(
        /^client: must be an ioredis client .* or a node-redis client/,
      );
    }
  });
});
