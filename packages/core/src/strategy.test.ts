import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import {
  ConfigError,
  MissingScopeError,
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  queryParamScope,
  type AuthRequest,
  type RejectedEvent,
  type RequestPolicy,
} from '@authrail/core';
import { SECRET, fakeSource } from '../test/fake-source.js';

const API = 'https://api.example.org';

function view(url: string, method = 'GET'): AuthRequest {
  return { method, url: new URL(url), headers: new Headers() };
}

function details(request: AuthRequest, replayCount = 0, replayable: true | string = true) {
  return { method: request.method, url: request.url, replayCount, replayable };
}

describe('createAuthStrategy', () => {
  test('authorize sets the bearer token for allowed origins and reports the token used', async () => {
    const source = fakeSource();
    const strategy = createAuthStrategy({ source, origins: [API] });
    const request = view(`${API}/fhir/Patient`);
    const used = await strategy.authorize(request);
    expect(used.applied).toBe(true);
    expect(request.headers.get('authorization')).toBe(`Bearer ${used.token?.accessToken}`);
  });

  test('a request to another origin is untouched and fetches no token', async () => {
    const source = fakeSource();
    const strategy = createAuthStrategy({
      source,
      origins: [API],
      policies: [queryParamScope({ param: 'researchstudy', value: '1' })],
    });
    const request = view('https://elsewhere.example.com/x?y=1');
    const used = await strategy.authorize(request);
    expect(used).toEqual({ applied: false, token: undefined });
    expect([...request.headers]).toEqual([]);
    expect(request.url.href).toBe('https://elsewhere.example.com/x?y=1');
    expect(source.calls).toHaveLength(0);
  });

  test('policies run in order after the origin check and before the credential; a missing scope fetches no token', async () => {
    const source = fakeSource();
    const order: string[] = [];
    const first: RequestPolicy = () => void order.push('first');
    const strategy = createAuthStrategy({
      source,
      origins: [API],
      policies: [first, queryParamScope({ param: 'researchstudy', required: true })],
    });
    await expect(strategy.authorize(view(`${API}/fhir/Patient`))).rejects.toBeInstanceOf(MissingScopeError);
    expect(order).toEqual(['first']);
    expect(source.calls).toHaveLength(0);
  });

  test("a user policy may return 'skip' to leave a request untouched", async () => {
    const source = fakeSource();
    const publicPaths: RequestPolicy = (request) =>
      request.url.pathname.startsWith('/public/') ? 'skip' : undefined;
    const strategy = createAuthStrategy({ source, origins: [API], policies: [publicPaths] });
    const request = view(`${API}/public/metadata`);
    expect((await strategy.authorize(request)).applied).toBe(false);
    expect(request.headers.has('authorization')).toBe(false);
  });

  test('isRejected: any 401 by default; only invalid_token challenges when asked', () => {
    const h = (value?: string) => new Headers(value ? { 'www-authenticate': value } : {});
    const any = createAuthStrategy({ source: fakeSource(), origins: [API] });
    expect(any.isRejected({ status: 401, headers: h() })).toBe(true);
    expect(any.isRejected({ status: 403, headers: h() })).toBe(false);
    expect(any.isRejected({ status: 200, headers: h() })).toBe(false);
    const strict = createAuthStrategy({ source: fakeSource(), origins: [API], rejectWhen: 'invalid-token' });
    expect(
      strict.isRejected({
        status: 401,
        headers: h('Bearer error="invalid_token", error_description="expired"'),
      }),
    ).toBe(true);
    expect(strict.isRejected({ status: 401, headers: h('Bearer realm="x", error=invalid_token') })).toBe(
      true,
    );
    expect(strict.isRejected({ status: 401, headers: h('Bearer realm="api"') })).toBe(false);
    expect(strict.isRejected({ status: 401, headers: h('Basic realm="x", error="invalid_token"') })).toBe(
      false,
    );
    expect(strict.isRejected({ status: 401, headers: h() })).toBe(false);
  });

  test('reject invalidates exactly the used token and allows one replay', async () => {
    const source = fakeSource();
    const events: RejectedEvent[] = [];
    const strategy = createAuthStrategy({ source, origins: [API], on: { rejected: (e) => events.push(e) } });
    const request = view(`${API}/fhir/Patient?researchstudy=17-001`);
    const used = await strategy.authorize(request);
    expect(await strategy.reject(used, details(request))).toEqual({ replay: true, reason: 'replaying' });
    const replay = view(`${API}/fhir/Patient`);
    const usedAgain = await strategy.authorize(replay);
    expect(usedAgain.token?.accessToken).not.toBe(used.token?.accessToken);
    expect(await strategy.reject(usedAgain, details(replay, 1))).toEqual({
      replay: false,
      reason: 'already-replayed',
    });
    expect(events.map((e) => [e.replay, e.reason, e.url])).toEqual([
      [true, 'replaying', `${API}/fhir/Patient`],
      [false, 'already-replayed', `${API}/fhir/Patient`],
    ]);
    expect(source.calls).toHaveLength(2);
  });

  test('a body that cannot be replayed is reported with the reason', async () => {
    const events: RejectedEvent[] = [];
    const strategy = createAuthStrategy({
      source: fakeSource(),
      origins: [API],
      on: { rejected: (e) => events.push(e) },
    });
    const request = view(`${API}/upload`, 'POST');
    const used = await strategy.authorize(request);
    expect(await strategy.reject(used, details(request, 0, 'one-shot stream body'))).toEqual({
      replay: false,
      reason: 'body-not-replayable',
    });
    expect(events[0]).toMatchObject({
      replay: false,
      reason: 'body-not-replayable',
      detail: 'one-shot stream body',
      method: 'POST',
    });
  });

  test('reject of a request that carried no credential does nothing', async () => {
    const source = fakeSource();
    const strategy = createAuthStrategy({ source, origins: [API] });
    expect(
      await strategy.reject({ applied: false, token: undefined }, details(view('https://x.example/'))),
    ).toEqual({ replay: false, reason: 'no-credential' });
  });

  test('reject without details only invalidates', async () => {
    const source = fakeSource();
    const strategy = createAuthStrategy({ source, origins: [API] });
    const used = await strategy.authorize(view(`${API}/`));
    expect((await strategy.reject(used)).replay).toBe(false);
    await strategy.authorize(view(`${API}/`));
    expect(source.calls).toHaveLength(2);
  });

  test('the caller signal reaches the token wait', async () => {
    const source = fakeSource(Date.now, { kind: 'hang' });
    const strategy = createAuthStrategy({ source, origins: [API] });
    await expect(
      strategy.authorize(view(`${API}/`), { signal: AbortSignal.timeout(10) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  test('a custom credential policy replaces bearer', async () => {
    const strategy = createAuthStrategy({
      source: fakeSource(),
      origins: [API],
      credential: async (request, ctx) => {
        request.headers.set('X-Token', (await ctx.token()).accessToken);
      },
    });
    const request = view(`${API}/`);
    const used = await strategy.authorize(request);
    expect(request.headers.get('x-token')).toBe(used.token?.accessToken);
    expect(request.headers.has('authorization')).toBe(false);
  });

  test('inspecting a strategy or its events shows no secret', async () => {
    const lines: string[] = [];
    const strategy = createAuthStrategy({
      source: fakeSource(),
      origins: [API],
      logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m) },
    });
    const request = view(`${API}/`);
    const used = await strategy.authorize(request);
    await strategy.reject(used, details(request));
    const token = used.token!.accessToken;
    expect(inspect(strategy, { depth: 6 })).not.toContain(token);
    expect(inspect(used, { depth: 6 })).not.toContain(token);
    expect(JSON.stringify(used)).not.toContain(token);
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  test.each([
    [{ origins: [API] }, 'source'],
    [{ source: fakeSource() }, 'origins'],
    [{ source: fakeSource(), origins: ['http://api.example.org'] }, 'origins'],
    [{ source: fakeSource(), origins: [API], rejectWhen: 'sometimes' }, 'rejectWhen'],
    [{ source: fakeSource(), origins: [API], policies: ['x'] }, 'policies'],
    [{ source: fakeSource(), origins: [API], credential: 'bearer' }, 'credential'],
    [{ source: fakeSource(), origins: [API], refresh: { skewMs: -5 } }, 'refresh.skewMs'],
  ])('bad options fail at construction naming the option (%#)', (options, option) => {
    const make = () => createAuthStrategy(options as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(new RegExp(`^${option.replace('.', '\\.')}:`));
  });

  test('strategies built on one token manager share its token and its single flight', async () => {
    const source = fakeSource();
    const first = createAuthStrategy({
      source,
      origins: [API],
      policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
    });
    const second = createAuthStrategy({
      tokens: first.tokens,
      origins: [API],
      policies: [queryParamScope({ param: 'researchstudy', value: '20-123' })],
    });
    const a = view(`${API}/fhir/Patient`);
    const b = view(`${API}/fhir/Patient`);
    const [ua, ub] = await Promise.all([first.authorize(a), second.authorize(b)]);
    expect(ua.token?.accessToken).toBe(ub.token?.accessToken);
    expect([a.url.searchParams.get('researchstudy'), b.url.searchParams.get('researchstudy')]).toEqual([
      '17-001',
      '20-123',
    ]);
    expect(source.calls).toHaveLength(1);
    expect(second.tokens).toBe(first.tokens);
    expect(() => createAuthStrategy({ tokens: first.tokens, source, origins: [API] })).toThrow(
      /^source: cannot be given together with tokens/,
    );
    expect(() => createAuthStrategy({ tokens: {} as never, origins: [API] })).toThrow(/^tokens:/);
  });

  test('no options at all is a ConfigError too', () => {
    expect(() => createAuthStrategy(undefined as never)).toThrow(ConfigError);
  });
});

describe('built-in strategies without a token server', () => {
  test('static bearer token: sent to allowed origins only, never replayed', async () => {
    const strategy = createStaticTokenStrategy({ token: 'pat-123456', origins: [API] });
    const request = view(`${API}/x`);
    const used = await strategy.authorize(request);
    expect(request.headers.get('authorization')).toBe('Bearer pat-123456');
    expect(await strategy.reject(used, details(request))).toEqual({
      replay: false,
      reason: 'not-refreshable',
    });
    const other = view('https://elsewhere.example/x');
    await strategy.authorize(other);
    expect(other.headers.has('authorization')).toBe(false);
  });

  test('API key in a header (default X-API-Key) or a query parameter', async () => {
    const header = createApiKeyStrategy({ key: 'key-abcdef', origins: [API] });
    const r1 = view(`${API}/x`);
    await header.authorize(r1);
    expect(r1.headers.get('x-api-key')).toBe('key-abcdef');

    const custom = createApiKeyStrategy({
      key: 'key-abcdef',
      header: 'Ocp-Apim-Subscription-Key',
      origins: [API],
    });
    const r2 = view(`${API}/x`);
    await custom.authorize(r2);
    expect(r2.headers.get('ocp-apim-subscription-key')).toBe('key-abcdef');

    const query = createApiKeyStrategy({ key: 'key-abcdef', query: 'api_key', origins: [API] });
    const r3 = view(`${API}/x?a=1`);
    const used = await query.authorize(r3);
    expect(r3.url.searchParams.get('api_key')).toBe('key-abcdef');
    expect(await query.reject(used, details(r3))).toEqual({ replay: false, reason: 'not-refreshable' });

    const elsewhere = view('https://elsewhere.example/x');
    await query.authorize(elsewhere);
    expect(elsewhere.url.search).toBe('');
  });

  test.each([
    [() => createStaticTokenStrategy({ token: '', origins: [API] }), 'token'],
    [() => createStaticTokenStrategy({ token: 'abc', origins: [] }), 'origins'],
    [() => createApiKeyStrategy({ key: '', origins: [API] }), 'key'],
    [() => createApiKeyStrategy({ key: 'k', header: 'X', query: 'q', origins: [API] }), 'query'],
  ])('bad options fail naming the option (%#)', (make, option) => {
    expect(make).toThrow(new RegExp(`^${option}:`));
  });
});
