import { once } from 'node:events';
import { Redis } from 'ioredis';
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
import { createRedisTokenStore, type RedisStoreEvent, type RedisTokenStore } from './index.js';

let redis: RedisServer;
const clients: Redis[] = [];
const stores: RedisTokenStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const client of clients.splice(0)) client.disconnect();
});

/** A client of its own, as each process of a fleet has; commands it sends are counted. */
function client(): Redis & { commands: string[] } {
  const c = new Redis({
    port: redis.port,
    host: '127.0.0.1',
    lazyConnect: false,
    maxRetriesPerRequest: 1,
  }) as Redis & {
    commands: string[];
  };
  c.commands = [];
  c.on('error', () => undefined); // a user's client: its errors are the user's (the store has its own listener)
  const send = c.sendCommand.bind(c);
  c.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    c.commands.push(command.name);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof c.sendCommand;
  clients.push(c);
  return c;
}

function store(options: Partial<Parameters<typeof createRedisTokenStore>[0]> = {}): RedisTokenStore {
  const s = createRedisTokenStore({
    client: client(),
    prefix: `t${Math.random().toString(36).slice(2)}`,
    ...options,
  });
  stores.push(s);
  return s;
}

const token = (accessToken: string, expiresIn = 3600, refreshToken?: string) =>
  createToken({ accessToken, expiresIn, ...(refreshToken ? { refreshToken } : {}) });

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const c = client();
    const s = createRedisTokenStore({ client: c, prefix: 'ttl' });
    stores.push(s);
    await s.set('k', token('short-lived-token', 120));
    const ttl = await c.pttl('ttl:{k}:token');
    expect(ttl).toBeGreaterThan(110_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    await s.set('r', token('with-refresh-token', 120, 'refresh-token-value'));
    expect(await c.pttl('ttl:{r}:token')).toBeGreaterThan(24 * 3_600_000);
  });

  test('keys share a hash slot per token (Redis Cluster) and hold no secret', async () => {
    const c = client();
    const s = createRedisTokenStore({ client: c, prefix: 'slots' });
    stores.push(s);
    await s.set('authrail:v1:abc', token('the-secret-access-token'));
    const names = await c.keys('slots:*');
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
    await client().publish(`${prefix}:changed`, 'earlier-version k');
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
    c.commands.length = 0;
    for (let i = 0; i < 100; i++) await send();
    expect(c.commands).toEqual([]);
    expect(source.calls).toHaveLength(1);
  });
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
    const admin = client();
    // Process A is paused mid-fetch (a long GC, SIGSTOP): its renewals never reach Redis.
    const paused = client();
    const send = paused.eval.bind(paused) as (...args: unknown[]) => Promise<unknown>;
    paused.eval = ((script: string, ...rest: unknown[]) =>
      script.includes('PEXPIRE') ? Promise.resolve(0) : send(script, ...rest)) as typeof paused.eval;
    const a = createRedisTokenStore({ client: paused, prefix, leaseMs: 300 });
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
    expect(await admin.get(`${prefix}:{${key}}:lock`)).toBe('1'); // A holds the lock, fence 1
    // A's lease runs out (nothing renews it); B takes the lock with a newer fence and writes.
    for (let i = 0; (await admin.exists(`${prefix}:{${key}}:lock`)) === 1; i += 1) {
      if (i > 400) throw new Error('the lease of the paused holder never ran out');
      await settle(25);
    }
    const newer = await b.singleFlight!(key, () => Promise.resolve(token('newer-token-from-b')), options());
    expect(newer.accessToken).toBe('newer-token-from-b');
    expect(await admin.get(`${prefix}:{${key}}:token`)).toMatch(/^2\|/);
    await settle(); // b's subscription is up

    // A wakes up and finishes its fetch: its write carries fence 1, older than the stored 2.
    resume(token('stale-token-from-a'));
    await aDone;
    const raw = (await admin.get(`${prefix}:{${key}}:token`))!;
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
    const c = client();
    const sealed = createRedisTokenStore({
      client: c,
      prefix: 'enc',
      encryption: { current: 'a', keys: { a: keyA } },
    });
    stores.push(sealed);
    await sealed.set('k', token('plain-access-token-value', 3600, 'plain-refresh-token-value'));
    const raw = (await c.get('enc:{k}:token'))!;
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
    const managers = [0, 1, 2].map(() => createTokenManager({ source, store: store(options) }));
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
    await Promise.all(clients.map((c) => (c.status === 'ready' ? Promise.resolve() : once(c, 'ready'))));
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
    const admin = client();
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
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
    const sentinelClients: Redis[] = [];
    try {
      const source = fakeSource();
      const managers = [0, 1, 2, 3].map(() => {
        const c = new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: sentinel.name });
        c.on('error', () => undefined);
        sentinelClients.push(c);
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
      const probe = new Redis({ port: sentinel.port });
      probe.on('error', () => undefined);
      sentinelClients.push(probe);
      for (let i = 0; ; i += 1) {
        const [, port] = (await probe.call('SENTINEL', 'get-master-addr-by-name', sentinel.name)) as string[];
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
      for (const c of sentinelClients) c.disconnect();
      await sentinel.stop();
    }
  }, 60_000);
});
