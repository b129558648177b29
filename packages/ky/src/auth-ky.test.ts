import { describe, expect, test } from 'vitest';
import ky from 'ky';
import ky1 from 'ky1';
import {
  MissingScopeError,
  createAuthStrategy,
  createStaticTokenStrategy,
  isTokenEndpointError,
  type AuthStrategy,
  type RejectedEvent,
} from '@authrail/core';
import { mskApim } from '@authrail/msk-apim';
import { demoClients } from '@authrail/sandbox';
import { authHooks, createAuthKy } from '@authrail/ky';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const strategy = (on: { rejected?: (e: RejectedEvent) => void } = {}) =>
  mskApim({ baseUrl: sb.urls.mskApim.baseUrl, ...demoClients.mskApim, researchStudy: '17-001', on });
const echoes = () => sb.resourceRequests({ route: 'echo' });

/** The strategy, counting how often a request was authorized. */
function counted(inner: AuthStrategy): AuthStrategy & { calls: number } {
  const wrapper = {
    calls: 0,
    authorize: (...args: Parameters<AuthStrategy['authorize']>) => {
      wrapper.calls += 1;
      return inner.authorize(...args);
    },
    isRejected: inner.isRejected,
    reject: inner.reject,
  };
  return wrapper;
}

describe.each([
  ['ky 2', ky],
  ['ky 1', ky1 as unknown as typeof ky],
])('createAuthKy with %s', (_name, instance) => {
  test("ky's own 5xx retries still happen, and each attempt is authorized afresh", async () => {
    const api = createAuthKy(strategy(), { ky: instance, retry: { limit: 2, delay: () => 0 } });
    sb.inject('echo', { type: 'status', status: 503 }, { times: 1 });
    const response = await api.get(`${sb.urls.echo}/retry`);
    expect(response.status).toBe(200);
    expect(echoes().map((r) => r.status)).toEqual([503, 200]);
    expect(echoes().every((r) => r.headers.authorization?.startsWith('Bearer '))).toBe(true);
  });

  test("a 401 replay does not use up ky's retry budget", async () => {
    const events: RejectedEvent[] = [];
    const api = createAuthKy(strategy({ rejected: (e) => events.push(e) }), {
      ky: instance,
      retry: { limit: 1, delay: () => 0 },
    });
    await api.get(`${sb.urls.echo}/warm`);
    // 401 (replayed inside the attempt) → 503 (ky's one retry) → 200
    sb.inject('echo', { type: 'unauthorized' }, { times: 1 });
    sb.inject('echo', { type: 'status', status: 503 }, { times: 1 });
    const response = await api.get(`${sb.urls.echo}/budget`);
    expect(response.status).toBe(200);
    expect(
      echoes()
        .filter((r) => r.path === '/echo/budget')
        .map((r) => r.status),
    ).toEqual([401, 503, 200]);
    expect(events.map((e) => e.reason)).toEqual(['replaying']);
  });

  test("with ky's default retry, authrail's own errors are not retried by ky (ky 1 retries any non-HTTP error)", async () => {
    const unscoped = counted(
      mskApim({
        baseUrl: sb.urls.mskApim.baseUrl,
        ...demoClients.mskApim,
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      }),
    );
    const api = createAuthKy(unscoped, { ky: instance });
    await expect(api.get(`${sb.urls.mskApim.fhirBaseUrl}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(unscoped.calls).toBe(1);
    sb.inject('msk-token', { type: 'status', status: 503 });
    const error = await api.get(`${sb.urls.echo}/down?researchstudy=12-245`).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(unscoped.calls).toBe(2);
    expect(sb.tokenRequests()).toHaveLength(2); // the token manager's own 2 attempts, once
  });

  test('a shouldRetry the base instance already has still decides the rest', async () => {
    const asked: number[] = [];
    const base = instance.create({
      retry: {
        limit: 2,
        delay: () => 0,
        shouldRetry: ({ retryCount, error }) => (
          asked.push(retryCount),
          isTokenEndpointError(error) ? true : undefined
        ),
      },
    });
    const api = createAuthKy(strategy(), { ky: base as typeof ky });
    sb.inject('echo', { type: 'status', status: 503 }, { times: 1 });
    expect((await api.get(`${sb.urls.echo}/base-retry`)).status).toBe(200);
    expect(asked).toHaveLength(1); // the user's shouldRetry was consulted for the 503
    sb.inject('msk-token', { type: 'status', status: 400 });
    sb.revokeTokens();
    const error = await api.get(`${sb.urls.echo}/base-retry-2`).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true); // authrail's guard wins over the user's `true`
    expect(asked).toHaveLength(1);
  });

  test('a per-request numeric retry (replacing the guard) still ends on the first authrail error', async () => {
    const unscoped = counted(mskApim({ baseUrl: sb.urls.mskApim.baseUrl, ...demoClients.mskApim }));
    const api = createAuthKy(unscoped, { ky: instance });
    const error = await api
      .get(`${sb.urls.mskApim.fhirBaseUrl}/Patient`, { retry: 3 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingScopeError);
    expect(unscoped.calls).toBe(1); // ky 1 waits one retry delay, then the beforeRetry guard rethrows
  });

  test("the user's beforeRequest hook runs as this ky major runs it, and every attempt carries a credential", async () => {
    const attempts: number[] = [];
    const api = createAuthKy(strategy(), {
      ky: instance,
      retry: { limit: 1, delay: () => 0 },
      hooks: { beforeRequest: [() => void attempts.push(1)] },
    });
    sb.inject('echo', { type: 'status', status: 500 }, { times: 1 });
    expect((await api.get(`${sb.urls.echo}/again`)).status).toBe(200);
    expect(attempts).toHaveLength(instance === ky ? 1 : 2); // ky 2 runs beforeRequest once, ky 1 per attempt
    expect(echoes().map((r) => [r.status, r.headers.authorization?.startsWith('Bearer ')])).toEqual([
      [500, true],
      [200, true],
    ]);
  });

  test("ky's timeout covers the wait for a token: ky's TimeoutError, nothing sent", async () => {
    sb.inject('msk-token', { type: 'hang' });
    const api = createAuthKy(strategy(), { ky: instance, timeout: 50 });
    const error = await api.get(`${sb.urls.echo}/slow`).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(echoes()).toHaveLength(0);
  });

  test("authHooks on an instance of your own: a MissingScopeError ends ky's retries", async () => {
    const unscoped = counted(mskApim({ baseUrl: sb.urls.mskApim.baseUrl, ...demoClients.mskApim }));
    const api = instance.create({ hooks: authHooks(unscoped), retry: { limit: 2, delay: () => 0 } });
    await expect(api.get(`${sb.urls.mskApim.fhirBaseUrl}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(unscoped.calls).toBe(1); // ky 1 would retry it; the beforeRetry guard rethrows before the next attempt
    expect(sb.requests).toHaveLength(0);
  });

  test('prefix/prefixUrl, searchParams and the scope parameter compose', async () => {
    const prefixOption =
      instance === ky ? { prefix: `${sb.urls.echo}/api` } : { prefixUrl: `${sb.urls.echo}/api` };
    const api = createAuthKy(strategy(), { ky: instance, ...prefixOption, searchParams: { page: '2' } });
    const body = await api.get('patients').json<{ path: string; query: Record<string, string> }>();
    expect(body.path).toBe('/echo/api/patients');
    expect(body.query).toEqual({ page: '2', researchstudy: '17-001' });
  });

  test('throwHttpErrors: false returns the second 401 as a response', async () => {
    const api = createAuthKy(strategy(), { ky: instance, throwHttpErrors: false, retry: 0 });
    sb.inject('echo', { type: 'unauthorized' });
    const response = await api.get(`${sb.urls.echo}/x`);
    expect(response.status).toBe(401);
    expect(echoes()).toHaveLength(2);
  });

  test("the user's hooks still run", async () => {
    const seen: string[] = [];
    const api = createAuthKy(strategy(), {
      ky: instance,
      hooks: {
        beforeRequest: [() => void seen.push('beforeRequest')],
        afterResponse: [() => void seen.push('afterResponse')],
      },
    });
    await api.get(`${sb.urls.echo}/hooks`);
    expect(seen).toEqual(['beforeRequest', 'afterResponse']);
  });

  test('authHooks on an instance of your own: authorizes, scopes, replays a 401 once', async () => {
    const events: RejectedEvent[] = [];
    const api = instance.create({ hooks: authHooks(strategy({ rejected: (e) => events.push(e) })) });
    const first = await api
      .post(`${sb.urls.echo}/hooked`, { json: { a: 1 } })
      .json<{ headers: Record<string, string>; query: Record<string, string> }>();
    expect(first.headers.authorization).toMatch(/^Bearer /);
    expect(first.query.researchstudy).toBe('17-001');
    sb.revokeTokens();
    const second = await api
      .post(`${sb.urls.echo}/hooked`, { json: { a: 2 } })
      .json<{ bodyBase64: string }>();
    expect(JSON.parse(Buffer.from(second.bodyBase64, 'base64').toString())).toEqual({ a: 2 });
    expect(echoes().map((r) => r.status)).toEqual([200, 401, 200]);
    expect(events).toEqual([expect.objectContaining({ replay: true })]);
    const elsewhere = await api.get(`${sb.urls.elsewhere}/x`).json<{ headers: Record<string, string> }>();
    expect(elsewhere.headers.authorization).toBeUndefined();
  });

  test("authHooks re-authorizes ky's retries", async () => {
    const api = instance.create({ hooks: authHooks(strategy()), retry: { limit: 1, delay: () => 0 } });
    sb.inject('echo', { type: 'status', status: 502 }, { times: 1 });
    expect((await api.get(`${sb.urls.echo}/r`)).status).toBe(200);
    expect(echoes().map((r) => [r.status, r.headers.authorization?.startsWith('Bearer ')])).toEqual([
      [502, true],
      [200, true],
    ]);
  });
});

test('bad arguments fail naming the option', () => {
  const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
  expect(() => createAuthKy(s, { ky: {} as never })).toThrow(/^ky:/);
  expect(() => authHooks({} as never)).toThrow(/^strategy:/);
  expect(() => createAuthKy({} as never)).toThrow(/^strategy:/);
  expect(createAuthStrategy).toBeTypeOf('function');
});
