// The tab store's logic with Node's own BroadcastChannel (real, between instances) and a
// stand-in for navigator.locks, which Node 20 lacks; real Chromium tabs are driven by the
// SPA example's test.
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  createTabTokenStore,
  createToken,
  createTokenManager,
  isConfigError,
  type TokenStore,
} from '@authrail/core';
import { fakeSource, settle } from '../../test-utils/src/fake-source.js';

/** An exclusive lock per name, in the order asked: what navigator.locks.request does. */
function locks() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, _options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T> {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(callback, callback);
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}

const stores: TokenStore[] = [];
afterEach(() => {
  vi.unstubAllGlobals();
  stores.length = 0;
});

function tabs(n: number, name = `t${Math.random()}`): TokenStore[] {
  vi.stubGlobal('navigator', { locks: locks() });
  return Array.from({ length: n }, () => createTabTokenStore({ name, askMs: 30 }));
}

describe('the tab store', () => {
  test('without Web Locks (Node 20, older browsers) it is a memory store: each tab refreshes on its own', () => {
    const store = createTabTokenStore();
    expect(store.singleFlight).toBeUndefined();
    expect(store.oneUser).toBe(true);
  });

  test('a tab opened later gets the token the others hold, without a token request', async () => {
    const [first, later] = tabs(2);
    await first!.set(
      'k',
      createToken({ accessToken: 'signed-in-token', expiresIn: 3600, refreshToken: 'r1' }),
    );
    const token = await later!.get('k');
    expect(token?.accessToken).toBe('signed-in-token');
    expect(token?.refreshToken).toBe('r1');
  });

  test('three tabs needing a new token at once: one token request, the rotated refresh token used once', async () => {
    const stores = tabs(3);
    const source = fakeSource();
    const managers = stores.map((store) =>
      createTokenManager({
        source: { ...source, identity: { ...source.identity, actsForUser: true } },
        store,
      }),
    );
    await managers[0]!.setToken(
      createToken({ accessToken: 'old', expiresAt: Date.now() - 1, refreshToken: 'refresh-0' }),
    );
    await settle();
    const got = await Promise.all(managers.map((m) => m.getToken()));
    expect(source.calls.map((c) => c.refreshToken)).toEqual(['refresh-0']);
    expect(new Set(got.map((t) => t.accessToken)).size).toBe(1);
  });

  test('signing out in one tab signs out all', async () => {
    const [a, b, c] = tabs(3);
    await a!.set('k', createToken({ accessToken: 'shared-token', expiresIn: 3600 }));
    await settle();
    expect((await b!.get('k'))?.accessToken).toBe('shared-token');
    expect((await c!.get('k'))?.accessToken).toBe('shared-token');
    await b!.delete('k');
    await settle();
    expect(await a!.get('k')).toBeUndefined();
    expect(await c!.get('k')).toBeUndefined();
  });

  test('a user flow needs no session with it (one user), but does with a store shared by users', () => {
    const source = {
      ...fakeSource(),
      identity: { tokenEndpoint: 'https://a.example/token', clientId: 'spa', actsForUser: true },
    };
    expect(() => createTokenManager({ source, store: createTabTokenStore() })).not.toThrow();
    expect(() =>
      createTokenManager({ source, store: { get: () => undefined, set() {}, delete() {} } }),
    ).toThrow(/session/);
  });

  test('bad options are refused, naming the option', () => {
    for (const [options, option] of [
      [{ name: '' }, 'name'],
      [{ askMs: -1 }, 'askMs'],
    ] as const) {
      let error: unknown;
      try {
        createTabTokenStore(options);
      } catch (e) {
        error = e;
      }
      expect(isConfigError(error) && error.option).toBe(option);
    }
  });
});
