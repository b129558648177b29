import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createToken, isConfigError, type Token } from '@authrail/core';
import { spawnTs } from '@authrail/test-utils';
import {
  createFileTokenStore,
  defaultTokenCacheDirectory,
  type FileTokenStore,
  type FileTokenStoreOptions,
} from './index.js';

const KEY = 'authrail:v1:0123456789abcdef';
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'authrail-file-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function token(
  accessToken = `at-${randomBytes(12).toString('hex')}`,
  init: { refreshToken?: string } = {},
): Token {
  return createToken({ accessToken, expiresIn: 3600, ...init });
}

function open(options: Partial<FileTokenStoreOptions> = {}): FileTokenStore & { warnings: string[] } {
  const warnings: string[] = [];
  const store = createFileTokenStore({
    directory: join(dir, 'cache'),
    encryption: { current: 'k1', keys: { k1 } },
    logger: { warn: (line) => warnings.push(line) },
    ...options,
  });
  return Object.assign(store, { warnings });
}

async function files(): Promise<string[]> {
  return (await readdir(join(dir, 'cache'))).sort();
}

const never = () => new AbortController().signal;

describe('the file', () => {
  test('holds no token in plain text, is 0600 in a 0700 directory, and a new store (the next run) reads it', async () => {
    const stored = token(undefined, { refreshToken: `rt-${randomBytes(12).toString('hex')}` });
    await open().set(KEY, stored);
    const [name] = await files();
    expect(name).toMatch(/^token-[0-9a-f]{32}\.json$/);
    const path = join(dir, 'cache', name!);
    const bytes = await readFile(path);
    for (const secret of [stored.accessToken, stored.refreshToken!]) {
      expect(bytes.includes(secret)).toBe(false);
      expect(bytes.includes(Buffer.from(secret).toString('base64'))).toBe(false);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'cache'))).mode & 0o777).toBe(0o700);
    const again = await open().get(KEY);
    expect(again?.accessToken).toBe(stored.accessToken);
    expect(again?.refreshToken).toBe(stored.refreshToken);
  });

  test('a copy under another key does not open (the store key is authenticated)', async () => {
    const store = open();
    await store.set(KEY, token());
    const [name] = await files();
    await store.set('authrail:v1:other', token());
    const other = (await files()).find((n) => n !== name)!;
    await writeFile(join(dir, 'cache', other), await readFile(join(dir, 'cache', name!)));
    expect(await open().get('authrail:v1:other')).toBeUndefined();
  });

  test('a damaged file is said once on the logger (no secret) and read as empty, never thrown', async () => {
    const store = open();
    await store.set(KEY, token());
    const [name] = await files();
    await writeFile(join(dir, 'cache', name!), '{"v":1,"kid":"k1","iv":"AAAA", "ct": trunc');
    const reader = open();
    expect(await reader.get(KEY)).toBeUndefined();
    expect(await reader.get(KEY)).toBeUndefined();
    expect(reader.warnings).toHaveLength(1);
    expect(reader.warnings[0]).toMatch(/cannot be read: it is damaged; treated as empty/);
    // Signing in again replaces it.
    const fresh = token();
    await reader.set(KEY, fresh);
    expect((await open().get(KEY))?.accessToken).toBe(fresh.accessToken);
  });

  test('a wrong key reads as empty, said once, naming the key id and never a key or token', async () => {
    const stored = token();
    await open().set(KEY, stored);
    const wrong = open({ encryption: { current: 'k1', keys: { k1: k2 } } });
    expect(await wrong.get(KEY)).toBeUndefined();
    expect(await wrong.get(KEY)).toBeUndefined();
    expect(wrong.warnings).toEqual([expect.stringMatching(/key "k1" does not open it/)]);
    for (const secret of [k1, k2, stored.accessToken]) expect(wrong.warnings.join()).not.toContain(secret);
  });

  test('keys rotate: the new key reads what the old one wrote, and writes with itself', async () => {
    const first = token();
    await open().set(KEY, first);
    const rotated = open({ encryption: { current: 'k2', keys: { k1, k2 } } });
    expect((await rotated.get(KEY))?.accessToken).toBe(first.accessToken);
    const second = token();
    await rotated.set(KEY, second);
    const [name] = await files();
    expect(JSON.parse(await readFile(join(dir, 'cache', name!), 'utf8'))).toMatchObject({ kid: 'k2' });
    const newOnly = open({ encryption: { current: 'k2', keys: { k2 } } });
    expect((await newOnly.get(KEY))?.accessToken).toBe(second.accessToken);
  });

  test('a passphrase: the key derived with scrypt and the salt in the file; another passphrase reads nothing', async () => {
    const stored = token(undefined, { refreshToken: 'rt-passphrase-test-0001' });
    await open({ encryption: undefined, passphrase: 'correct horse battery staple' }).set(KEY, stored);
    const [name] = await files();
    const body = JSON.parse(await readFile(join(dir, 'cache', name!), 'utf8')) as Record<string, unknown>;
    expect(body.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1, salt: expect.any(String) });
    expect(JSON.stringify(body)).not.toContain(stored.refreshToken);
    const next = open({ encryption: undefined, passphrase: 'correct horse battery staple' });
    expect((await next.get(KEY))?.refreshToken).toBe(stored.refreshToken);
    const other = open({ encryption: undefined, passphrase: 'incorrect horse' });
    expect(await other.get(KEY)).toBeUndefined();
    expect(other.warnings).toEqual([expect.stringMatching(/the passphrase does not open it/)]);
    // Keys do not open a passphrase's file either, and say why.
    const keyed = open();
    expect(await keyed.get(KEY)).toBeUndefined();
    expect(keyed.warnings[0]).toMatch(/written with a passphrase/);
  }, 30_000);
});

describe('delete', () => {
  test('sign-out removes the file; the directory stays', async () => {
    const store = open();
    await store.set(KEY, token());
    await store.delete(KEY);
    expect(await files()).toEqual([]);
    expect(await open().get(KEY)).toBeUndefined();
    await store.delete(KEY); // nothing there: fine
  });

  test('with a token, only that token: a newer one stays', async () => {
    const store = open();
    const old = token();
    const newer = token();
    await store.set(KEY, newer);
    await store.delete(KEY, old);
    expect((await open().get(KEY))?.accessToken).toBe(newer.accessToken);
    await store.delete(KEY, newer);
    expect(await files()).toEqual([]);
  });

  test('a cached token is served synchronously (a stat, no read) until the file changes', async () => {
    const store = open();
    const first = token();
    await store.set(KEY, first);
    expect(store.get(KEY)).toBe(first); // not a promise: the request path does not wait
    const read = open();
    expect(await read.get(KEY)).toBeDefined();
    expect(read.get(KEY)).not.toBeInstanceOf(Promise);
    const second = token();
    await open().set(KEY, second); // another process writes
    const seen = store.get(KEY);
    expect(seen).toBeInstanceOf(Promise);
    expect((await seen)?.accessToken).toBe(second.accessToken);
  });

  test("another process's sign-out is seen by a store that holds a copy", async () => {
    const here = open();
    await here.set(KEY, token());
    expect(await here.get(KEY)).toBeDefined();
    await open().delete(KEY);
    expect(await here.get(KEY)).toBeUndefined();
  });
});

describe('writes', () => {
  test('a reader never sees a partial file: another process rewrites it nonstop, then is killed mid-write', async () => {
    const child = spawnTs('packages/node/test/file-store-child.ts', {
      args: ['write'],
      env: { AUTHRAIL_TEST_DIR: join(dir, 'cache'), AUTHRAIL_TEST_KEY: k1 },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the writer ended (${code})`)));
      });
      let reads = 0;
      for (const started = Date.now(); Date.now() - started < 1_500; reads += 1) {
        const reader = open(); // no copy: every read opens and decrypts the file
        const got = await reader.get('torn-key');
        expect(got?.accessToken).toMatch(/^at-\d+-x*$/);
        expect(reader.warnings).toEqual([]);
      }
      expect(reads).toBeGreaterThan(50);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const after = open();
    expect((await after.get('torn-key'))?.accessToken).toMatch(/^at-\d+-x*$/);
    expect(after.warnings).toEqual([]);
    // What a kill leaves at most is its temporary file, encrypted like the rest.
    expect((await files()).filter((n) => !n.endsWith('.tmp'))).toHaveLength(1);
  }, 30_000);

  test('a directory that cannot be written: said once per write, the token kept in this process', async () => {
    await writeFile(join(dir, 'not-a-directory'), '');
    const store = open({ directory: join(dir, 'not-a-directory', 'cache') });
    const kept = token();
    await store.set(KEY, kept);
    expect((await store.get(KEY))?.accessToken).toBe(kept.accessToken);
    expect(store.warnings).toEqual([
      expect.stringMatching(/could not write .* \(ENOTDIR\); the token is kept in this process only/),
    ]);
    // A token request still runs, without the lock.
    const fetched = token();
    const got = await store.singleFlight!(KEY, () => Promise.resolve(fetched), {
      signal: never(),
      isUsable: () => false,
    });
    expect(got).toBe(fetched);
  });
});

describe('singleFlight in one process (two stores on one directory)', () => {
  test('the second waits for the token the first stores, and does not fetch', async () => {
    const first = open({ pollMs: 10 });
    const second = open({ pollMs: 10 });
    let release!: (t: Token) => void;
    const fetched = token();
    const firstFetch = vi.fn(() => new Promise<Token>((resolve) => (release = resolve)));
    const secondFetch = vi.fn(() => Promise.resolve(token()));
    const isUsable = (t: Token) => t.expiresAt! > Date.now();
    const one = first.singleFlight!(KEY, firstFetch, { signal: never(), isUsable });
    await vi.waitFor(() => expect(firstFetch).toHaveBeenCalled());
    const two = second.singleFlight!(KEY, secondFetch, { signal: never(), isUsable });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(secondFetch).not.toHaveBeenCalled();
    release(fetched);
    expect((await one).accessToken).toBe(fetched.accessToken);
    expect((await two).accessToken).toBe(fetched.accessToken);
    expect(secondFetch).not.toHaveBeenCalled();
    expect(await files()).toEqual([expect.stringMatching(/^token-[0-9a-f]{32}\.json$/)]); // lock removed
  });

  test('fetch gets the token stored when it took the lock (a refresh token rotated by another process)', async () => {
    const stored = createToken({
      accessToken: 'expired-at',
      expiresAt: Date.now() - 1,
      refreshToken: 'rt-current',
    });
    await open().set(KEY, stored);
    const fetch = vi.fn((current: Token | undefined) =>
      Promise.resolve(token(undefined, { refreshToken: `${current?.refreshToken}-next` })),
    );
    const got = await open().singleFlight!(KEY, fetch, { signal: never(), isUsable: () => false });
    expect(fetch.mock.calls[0]![0]?.refreshToken).toBe('rt-current');
    expect((await open().get(KEY))?.refreshToken).toBe(got.refreshToken);
  });

  test('abort while waiting: rejects with the reason, fetches nothing, leaves the holder its lock', async () => {
    const holder = open();
    void holder.singleFlight!(KEY, () => new Promise<Token>(() => undefined), {
      signal: never(),
      isUsable: () => false,
    });
    await vi.waitFor(async () => expect((await files()).some((n) => n.endsWith('.lock'))).toBe(true));
    const controller = new AbortController();
    const fetch = vi.fn(() => Promise.resolve(token()));
    const waiting = open({ pollMs: 10 }).singleFlight!(KEY, fetch, {
      signal: controller.signal,
      isUsable: () => true,
    });
    setTimeout(() => controller.abort(new Error('given up')), 100);
    await expect(waiting).rejects.toThrow('given up');
    expect(fetch).not.toHaveBeenCalled();
    expect((await files()).some((n) => n.endsWith('.lock'))).toBe(true);
  });

  test('a fetch that fails releases the lock: the next one fetches', async () => {
    const store = open();
    const failing = store.singleFlight!(KEY, () => Promise.reject(new Error('endpoint down')), {
      signal: never(),
      isUsable: () => false,
    });
    await expect(failing).rejects.toThrow('endpoint down');
    expect(await files()).toEqual([]);
    const fetched = token();
    expect(
      await store.singleFlight!(KEY, () => Promise.resolve(fetched), {
        signal: never(),
        isUsable: () => false,
      }),
    ).toBe(fetched);
  });
});

describe('stale locks', () => {
  async function lockFile(): Promise<string> {
    // The lock sits beside the token file, under the same hashed name.
    await open().set(KEY, token());
    const [name] = await files();
    await open().delete(KEY);
    return join(dir, 'cache', name!.replace(/\.json$/, '.lock'));
  }

  test('a lock of a dead process on this host is taken over at once', async () => {
    const lock = await lockFile();
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(
      lock,
      JSON.stringify({ pid, hostname: hostname(), at: new Date().toISOString(), id: 'dead' }),
    );
    const fetched = token();
    const started = Date.now();
    const got = await open({ leaseMs: 60_000 }).singleFlight!(KEY, () => Promise.resolve(fetched), {
      signal: never(),
      isUsable: () => false,
    });
    expect(got).toBe(fetched);
    expect(Date.now() - started).toBeLessThan(5_000); // not the 60 s lease
    expect(existsSync(lock)).toBe(false);
  }, 30_000);

  test('a lock from another host is waited for while renewed, and taken over once silent for leaseMs', async () => {
    const lock = await lockFile();
    await writeFile(
      lock,
      JSON.stringify({ pid: 1, hostname: 'elsewhere.example', at: new Date().toISOString(), id: 'far' }),
    );
    const fetched = token();
    const fetch = vi.fn(() => Promise.resolve(fetched));
    const waiting = open({ leaseMs: 60_000, pollMs: 10 }).singleFlight!(KEY, fetch, {
      signal: never(),
      isUsable: () => false,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fetch).not.toHaveBeenCalled();
    // Its holder fell silent two minutes ago.
    const past = new Date(Date.now() - 120_000);
    await utimes(lock, past, past);
    expect(await waiting).toBe(fetched);
  });

  test('a holder whose token request outlasts leaseMs renews its lock: nobody takes it over meanwhile', async () => {
    const holder = open({ leaseMs: 300 });
    const fetched = token();
    let release!: (t: Token) => void;
    const one = holder.singleFlight!(KEY, () => new Promise<Token>((resolve) => (release = resolve)), {
      signal: never(),
      isUsable: () => false,
    });
    await vi.waitFor(async () => expect((await files()).some((n) => n.endsWith('.lock'))).toBe(true));
    const fetch = vi.fn(() => Promise.resolve(token()));
    const two = open({ leaseMs: 300, pollMs: 10 }).singleFlight!(KEY, fetch, {
      signal: never(),
      isUsable: () => true,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // four leases
    expect(fetch).not.toHaveBeenCalled();
    release(fetched);
    expect((await two).accessToken).toBe((await one).accessToken);
    expect(fetch).not.toHaveBeenCalled();
  });

  test('a lock file without content (its holder died while writing it) is judged by its age', async () => {
    const lock = await lockFile();
    await writeFile(lock, '');
    const past = new Date(Date.now() - 120_000);
    await utimes(lock, past, past);
    const fetched = token();
    expect(
      await open({ leaseMs: 1_000 }).singleFlight!(KEY, () => Promise.resolve(fetched), {
        signal: never(),
        isUsable: () => false,
      }),
    ).toBe(fetched);
  });
});

describe('options', () => {
  test.each([
    [{ encryption: { current: 'k1', keys: { k1 } }, colour: 'blue' }, 'colour'],
    [{}, 'encryption'],
    [{ encryption: { current: 'k1', keys: { k1 } }, passphrase: 'p' }, 'passphrase'],
    [{ passphrase: '' }, 'passphrase'],
    [{ encryption: { current: 'k1', keys: { k1: 'short' } } }, 'encryption'],
    [{ encryption: { current: 'k9', keys: { k1 } } }, 'encryption'],
    [{ passphrase: 'p', leaseMs: 0 }, 'leaseMs'],
    [{ passphrase: 'p', pollMs: Infinity }, 'pollMs'],
    [{ passphrase: 'p', directory: 3 }, 'directory'],
    [{ passphrase: 'p', logger: 'console' }, 'logger'],
  ])('%j is refused naming %s', (options, option) => {
    let error: unknown;
    try {
      createFileTokenStore(options as FileTokenStoreOptions);
    } catch (caught) {
      error = caught;
    }
    expect(isConfigError(error)).toBe(true);
    expect(error).toMatchObject({ option });
    expect(String(error)).not.toContain(k1);
  });

  test('util.inspect of the store shows no key or passphrase', () => {
    const store = createFileTokenStore({ directory: dir, passphrase: 'a secret passphrase' });
    const keyed = createFileTokenStore({ directory: dir, encryption: { current: 'k1', keys: { k1 } } });
    expect(inspect(store, { depth: 10, showHidden: true })).not.toContain('a secret passphrase');
    expect(inspect(keyed, { depth: 10, showHidden: true })).not.toContain(k1);
    expect(store).toMatchObject({ directory: dir, oneUser: true });
  });
});

describe('defaultTokenCacheDirectory', () => {
  test.each([
    [{ platform: 'linux', env: {}, home: '/home/ada' }, '/home/ada/.cache/authrail'],
    [
      { platform: 'linux', env: { XDG_CACHE_HOME: '/var/cache/ada' }, home: '/home/ada' },
      '/var/cache/ada/authrail',
    ],
    [
      { platform: 'linux', env: { XDG_CACHE_HOME: 'relative' }, home: '/home/ada' },
      '/home/ada/.cache/authrail',
    ],
    [{ platform: 'freebsd', env: {}, home: '/home/ada' }, '/home/ada/.cache/authrail'],
    [
      { platform: 'darwin', env: { XDG_CACHE_HOME: '/x' }, home: '/Users/ada' },
      '/Users/ada/Library/Caches/authrail',
    ],
    [
      { platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, home: 'C:\\Users\\ada' },
      'C:\\Users\\ada\\AppData\\Local\\authrail',
    ],
    [{ platform: 'win32', env: {}, home: 'C:\\Users\\ada' }, 'C:\\Users\\ada\\AppData\\Local\\authrail'],
  ] as const)('%j → %s', (context, expected) => {
    expect(defaultTokenCacheDirectory(context)).toBe(expected);
  });

  test('the store uses it when no directory is given', () => {
    const store = createFileTokenStore({ passphrase: 'p' });
    expect(store.directory).toBe(defaultTokenCacheDirectory());
  });
});
