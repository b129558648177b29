// Client credentials against the sandbox: what makes two tokens different keeps them apart.
import { describe, expect, test } from 'vitest';
import { createAuthStrategy, createMemoryTokenStore, createTokenManager } from '@authrail/core';
import { clientCredentials, clientSecretPost, type ClientCredentialsOptions } from '@authrail/oauth2';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const source = (extra: Partial<ClientCredentialsOptions> = {}) =>
  clientCredentials({
    server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
    clientId: 'msk-demo-client',
    clientAuth: clientSecretPost('msk-demo-secret'),
    scope: 'full',
    ...extra,
  });

describe('store keys cover every grant parameter (issue 9 #6)', () => {
  test.each([
    ['audience', { parameters: { audience: 'api://blaze' } }, { parameters: { audience: 'api://ctrp' } }],
    ['resource', { resource: 'https://blaze.example.org/' }, { resource: ['https://ctrp.example.org/'] }],
  ] as const)(
    'regression: two strategies with another %s share a store but never a token',
    async (_name, a, b) => {
      const store = createMemoryTokenStore();
      const first = createAuthStrategy({ source: source(a), store, origins: [sb.url] });
      const second = createAuthStrategy({ source: source(b), store, origins: [sb.url] });
      const [one, two] = [await first.tokens.getToken(), await second.tokens.getToken()];
      expect(one.accessToken).not.toBe(two.accessToken);
      expect(sb.tokenRequests()).toHaveLength(2);
      const sent = sb.tokenRequests().map((r) => new URLSearchParams(r.body.toString()));
      const name = 'parameters' in a ? 'audience' : 'resource';
      expect(sent.map((p) => p.get(name))).toEqual([
        'parameters' in a ? a.parameters.audience : a.resource,
        'parameters' in b ? b.parameters.audience : [b.resource].flat()[0],
      ]);
      // The same parameters do share: one token for both.
      const third = createAuthStrategy({ source: source(a), store, origins: [sb.url] });
      expect((await third.tokens.getToken()).accessToken).toBe(one.accessToken);
      expect(sb.tokenRequests()).toHaveLength(2);
    },
  );

  test.each([
    [{ parameters: 'audience=x' }, /^parameters: must be an object/],
    [{ parameters: ['audience', 'x'] }, /^parameters: must be an object/],
    [{ parameters: { audience: 42 } }, /^parameters: audience must be a string/],
    [{ parameters: { grant_type: 'password' } }, /^parameters: grant_type is set by the grant/],
    [{ parameters: { scope: 'x' } }, /^parameters: scope is set by the grant/],
    [{ resource: 42 }, /^resource: must be an absolute URI/],
    [{ resource: 'relative/path' }, /^resource: must be an absolute URI/],
    [{ resource: 'https://api.example.org/#frag' }, /^resource: must be an absolute URI without a fragment/],
    [{ resource: ['https://a.example.org/', 7] }, /^resource:/],
  ])('%j is refused at construction', (extra, message) => {
    expect(() => source(extra as never)).toThrow(message);
  });
});

describe('one clock (issue 22)', () => {
  test('regression: tokens are stamped with the token manager’s clock, so 3 simulated hours of 1 h tokens cost 4 token requests', async () => {
    let now = Date.parse('2026-12-07T09:00:00Z');
    const tokens = createTokenManager({ source: source(), now: () => now });
    const first = await tokens.getToken();
    expect(first.issuedAt).toBe(now);
    // 541 calls, one every 20 s, over 3 hours; 1 h tokens are refreshed ahead from 55 min.
    for (let call = 0; call < 541; call += 1) {
      now += 20_000;
      await tokens.getToken();
      await new Promise((resolve) => setImmediate(resolve)); // a background refresh lands
    }
    expect(sb.tokenRequests()).toHaveLength(4);
  });
});
