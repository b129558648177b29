import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { createMemoryTokenStore, createToken } from '@authrail/core';
import { fnv1a128, tokenStoreKey } from './store.js';

describe('memory token store', () => {
  test('delete with a token deletes only that exact token', async () => {
    const store = createMemoryTokenStore();
    const old = createToken({ accessToken: 'old' });
    const fresh = createToken({ accessToken: 'new' });
    await store.set('k', fresh);
    await store.delete('k', old);
    expect(store.get('k')).toBe(fresh);
    await store.delete('k', fresh);
    expect(store.get('k')).toBeUndefined();
  });

  test('delete without a token clears the key', async () => {
    const store = createMemoryTokenStore();
    await store.set('k', createToken({ accessToken: 'a' }));
    await store.delete('k');
    expect(store.get('k')).toBeUndefined();
  });
});

describe('tokenStoreKey', () => {
  const identity = {
    tokenEndpoint: 'https://apim.mskcc.org/msk-apim/external/msk-oidc/oauth2/token',
    clientId: 'client-a',
    scope: 'full',
  };

  test('is stable, prefixed and hashed: it contains neither the client id nor the endpoint', async () => {
    const key = await tokenStoreKey(identity);
    expect(key).toMatch(/^authrail:v1:[0-9a-f]{64}$/);
    expect(await tokenStoreKey({ ...identity })).toBe(key);
    expect(key).not.toContain('client-a');
  });

  test('differs by endpoint, client id and scope', async () => {
    const keys = await Promise.all([
      tokenStoreKey(identity),
      tokenStoreKey({ ...identity, scope: 'other' }),
      tokenStoreKey({ ...identity, clientId: 'client-b' }),
      tokenStoreKey({ ...identity, tokenEndpoint: 'https://other.example/token' }),
      tokenStoreKey({ tokenEndpoint: identity.tokenEndpoint, clientId: 'client-a' }),
    ]);
    expect(new Set(keys).size).toBe(5);
  });

  test('regression (issue 9 #6): differs by every grant parameter and by session; parameter order does not matter', async () => {
    const keys = await Promise.all([
      tokenStoreKey(identity),
      tokenStoreKey({ ...identity, parameters: { audience: 'api://a' } }),
      tokenStoreKey({ ...identity, parameters: { audience: 'api://b' } }),
      tokenStoreKey({ ...identity, parameters: { resource: ['https://a.example/'] } }),
      tokenStoreKey({ ...identity, parameters: { resource: ['https://a.example/', 'https://b.example/'] } }),
      tokenStoreKey({ ...identity, actsForUser: true, session: 'alice' }),
      tokenStoreKey({ ...identity, actsForUser: true, session: 'bob' }),
    ]);
    expect(new Set(keys).size).toBe(7);
    expect(
      await tokenStoreKey({
        ...identity,
        parameters: { resource: ['https://b.example/', 'https://a.example/'], audience: 'x' },
      }),
    ).toBe(
      await tokenStoreKey({
        ...identity,
        parameters: { audience: 'x', resource: ['https://a.example/', 'https://b.example/'] },
      }),
    );
    // No parameters at all (or empty ones) keep the key a store already holds tokens under.
    expect(await tokenStoreKey({ ...identity, parameters: {} })).toBe(keys[0]);
    expect(await tokenStoreKey({ ...identity, parameters: { resource: [] } })).toBe(keys[0]);
  });

  test('the key of endpoint, client and scope is the one earlier versions wrote (stores keep their tokens)', async () => {
    const material = JSON.stringify([identity.tokenEndpoint, identity.clientId, identity.scope]);
    const digest = createHash('sha256').update(material).digest('hex');
    expect(await tokenStoreKey(identity)).toBe(`authrail:v1:${digest}`);
  });
});

describe('tokenStoreKey without WebCrypto (plain http: pages)', () => {
  test('falls back to a stable FNV-1a key that still differs by client', async () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      const a = await tokenStoreKey({ tokenEndpoint: 'https://a.example/token', clientId: 'one' });
      const again = await tokenStoreKey({ tokenEndpoint: 'https://a.example/token', clientId: 'one' });
      const b = await tokenStoreKey({ tokenEndpoint: 'https://a.example/token', clientId: 'two' });
      expect(a).toMatch(/^authrail:v1f:[0-9a-f]{32}$/);
      expect(again).toBe(a);
      expect(b).not.toBe(a);
    } finally {
      Object.defineProperty(globalThis, 'crypto', original!);
    }
  });

  test('FNV-1a 128 matches the published test vector', () => {
    expect(fnv1a128(new TextEncoder().encode(''))).toBe('6c62272e07bb014262b821756295c58d');
    expect(fnv1a128(new TextEncoder().encode('a'))).toBe('d228cb696f1a8caf78912b704e4a8964');
  });
});
