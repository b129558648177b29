// The ky adapter on its own, with ky 2 and ky 1: a strategy over a fake token source,
// bare local servers. Provider + adapter behaviour is the conformance table's job.
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import ky from 'ky';
import ky1 from 'ky1';
import {
  MissingScopeError,
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  isTokenEndpointError,
  queryParamScope,
  type AuthStrategy,
  type RejectedEvent,
  type TokenAuthStrategy,
} from '@authrail/core';
import { createAuthKy } from '@authrail/ky';
import {
  answer,
  fakeSource,
  rejectFirstCredential,
  useOrigins,
  type FakeSource,
  type Route,
  type Step,
} from '@authrail/test-utils';

const web = useOrigins();

function setup(options: { fallback?: Step; required?: boolean; maxAttempts?: number } = {}): {
  strategy: AuthStrategy;
  source: FakeSource;
  events: RejectedEvent[];
  hops: () => number;
} {
  const source = fakeSource(Date.now, options.fallback);
  const events: RejectedEvent[] = [];
  let hops = 0;
  const strategy = createAuthStrategy({
    source,
    origins: [web.api],
    policies: [
      () => void (hops += 1),
      queryParamScope({
        param: 'researchstudy',
        ...(options.required ? {} : { value: '17-001' }),
        required: true,
      }),
    ],
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: options.maxAttempts ?? 3 },
    on: { rejected: (e) => events.push(e) },
  });
  return { strategy, source, events, hops: () => hops };
}

/** Answers these statuses in turn, then 200 with the request echoed. */
function statuses(...queue: number[]): Route {
  return (_req, res, seen) => {
    const status = queue.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  };
}

describe.each([
  ['ky 2', ky],
  ['ky 1', ky1 as unknown as typeof ky],
])('createAuthKy with %s', (name, instance) => {
  test("ky's own 5xx retries still happen, and every attempt carries a credential", async () => {
    web.routes.set('/retry', statuses(503));
    const api = createAuthKy(setup().strategy, { ky: instance, retry: { limit: 2, delay: () => 0 } });
    expect((await api.get(`${web.api}/retry`)).status).toBe(200);
    expect(web.seen.map((s) => [s.path, s.headers.authorization?.startsWith('Bearer ')])).toEqual([
      ['/retry', true],
      ['/retry', true],
    ]);
  });

  test("a 401 replay does not use up ky's retry budget", async () => {
    const { strategy, events } = setup();
    let calls = 0;
    const reject = rejectFirstCredential();
    web.routes.set('/budget', (req, res, seen) =>
      ++calls === 2 ? statuses(503)(req, res, seen) : reject(req, res, seen),
    );
    const api = createAuthKy(strategy, { ky: instance, retry: { limit: 1, delay: () => 0 } });
    // 401 (replayed inside the attempt) → 503 (ky's one retry) → 200
    expect((await api.get(`${web.api}/budget`)).status).toBe(200);
    expect(web.seen).toHaveLength(3);
    expect(events.map((e) => e.reason)).toEqual(['replaying']);
  });

  test("with ky's default retry, invalid_client costs one token request", async () => {
    const { strategy, source } = setup({ fallback: { kind: 'fail', status: 401, error: 'invalid_client' } });
    const api = createAuthKy(strategy, { ky: instance });
    const error = await api.get(`${web.api}/x`).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TokenEndpointError', error: 'invalid_client' });
    expect(source.calls).toHaveLength(1);
    expect(web.seen).toHaveLength(0);
  });

  test('an instance without retries that retries per request still costs one token request', async () => {
    const { strategy, source } = setup({ fallback: { kind: 'fail', status: 401, error: 'invalid_client' } });
    const api = createAuthKy(strategy, { ky: instance, retry: 0 });
    const error = await api
      .get(`${web.api}/x`, { retry: { limit: 2, delay: () => 0 } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TokenEndpointError', error: 'invalid_client' });
    expect(source.calls).toHaveLength(1);
  });

  test("with ky's default retry, a 503 storm costs exactly core's maxAttempts", async () => {
    const { strategy, source } = setup({ fallback: { kind: 'fail', status: 503 }, maxAttempts: 3 });
    const api = createAuthKy(strategy, { ky: instance });
    const error = await api.get(`${web.api}/x`).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(source.calls).toHaveLength(3);
  });

  test('a MissingScopeError is not retried either, also with a per-request numeric retry', async () => {
    const { strategy, source, hops } = setup({ required: true });
    const api = createAuthKy(strategy, { ky: instance, retry: { limit: 2, delay: () => 0 } });
    await expect(api.get(`${web.api}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(hops()).toBe(1); // one attempt: ky did not try again
    await expect(api.get(`${web.api}/Patient`, { retry: 3 })).rejects.toBeInstanceOf(MissingScopeError);
    expect(hops()).toBe(2);
    expect(source.calls).toHaveLength(0);
    expect(web.seen).toHaveLength(0);
  });

  test("an instance extended from authrail's keeps the guard, whatever retry it sets", async () => {
    const { strategy, source, hops } = setup({ required: true });
    const api = createAuthKy(strategy, { ky: instance, retry: 0 });
    const numeric = api.extend({ retry: 3 });
    await expect(numeric.get(`${web.api}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(hops()).toBe(1);
    const eager = api.extend(() => ({ retry: { limit: 2, delay: () => 0, shouldRetry: () => true } }));
    await expect(eager.get(`${web.api}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    await expect(eager(`${web.api}/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(hops()).toBe(3); // one attempt each: ky did not try again
    expect(source.calls).toHaveLength(0);
    // and still authenticates, with its own options on top
    const scoped = createAuthKy(setup().strategy, { ky: instance }).extend({
      headers: { 'X-Extended': '1' },
    });
    const seen = await scoped.get(`${web.api}/ok`).json<{ headers: Record<string, string> }>();
    expect(seen.headers).toMatchObject({
      'x-extended': '1',
      authorization: expect.stringMatching(/^Bearer /),
    });
  });

  test("a base instance's numeric retry keeps its limit", async () => {
    web.routes.set('/busy', (_req, res) => {
      res.writeHead(503, { 'retry-after': '0' });
      res.end();
    });
    const base = instance.create({ retry: 3 });
    const api = createAuthKy(setup().strategy, { ky: base as typeof ky });
    await expect(api.get(`${web.api}/busy`)).rejects.toMatchObject({ name: 'HTTPError' });
    expect(web.seen).toHaveLength(4); // the first attempt and 3 retries, as the base instance would
  });

  test("a shouldRetry the base instance already has still decides the rest; authrail's guard wins", async () => {
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
    web.routes.set('/base-retry', statuses(503));
    const api = createAuthKy(setup().strategy, { ky: base as typeof ky });
    expect((await api.get(`${web.api}/base-retry`)).status).toBe(200);
    expect(asked).toHaveLength(1); // the user's shouldRetry was consulted for the 503
    const fresh = setup({ fallback: { kind: 'fail', status: 400, error: 'invalid_scope' } });
    const failing = createAuthKy(fresh.strategy, { ky: base as typeof ky });
    expect(isTokenEndpointError(await failing.get(`${web.api}/y`).catch((e: unknown) => e))).toBe(true);
    expect(asked).toHaveLength(1); // its `true` for a TokenEndpointError never got asked
    expect(fresh.source.calls).toHaveLength(1);
  });

  test('no credential in HTTPError: request, options, response, inspect and JSON', async () => {
    web.routes.set('/denied', answer(401));
    const { strategy, source } = setup();
    const api = createAuthKy(strategy, { ky: instance, retry: 0 });
    const error = await api.post(`${web.api}/denied`, { json: { a: 1 } }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('HTTPError');
    const rendered = [
      inspect(error, { depth: 6, showHidden: true }),
      JSON.stringify(error),
      JSON.stringify((error as { options?: unknown }).options),
      [...((error as { request: Request }).request.headers as Headers)].join(),
    ].join('\n');
    expect(source.issued).toHaveLength(2);
    for (const token of source.issued) expect(rendered).not.toContain(token.accessToken);
    expect(web.seen).toHaveLength(2); // the replay, then the second 401 as ky's HTTPError
  });

  test('regression (issue 22): an API key sent as a query parameter is not in the HTTPError (response.url, inspect)', async () => {
    web.routes.set('/keyed', answer(401));
    const key = 'query-key-5f1c9a';
    const api = createAuthKy(createApiKeyStrategy({ key, query: 'api_key', origins: [web.api] }), {
      ky: instance,
      retry: 0,
    });
    const error = (await api.get(`${web.api}/keyed?page=2`).catch((e: unknown) => e)) as {
      name: string;
      response: Response;
    };
    expect(error.name).toBe('HTTPError');
    expect(web.seen[0]?.query).toEqual({ page: '2', api_key: key }); // it was sent
    expect(error.response.url).toBe(`${web.api}/keyed?page=2&api_key=[redacted]`);
    const rendered = [inspect(error, { depth: 6, showHidden: true }), JSON.stringify(error)].join('\n');
    expect(rendered).not.toContain(key);
  });

  test("ky's timeout covers the wait for a token: ky's TimeoutError, nothing sent", async () => {
    const { strategy } = setup({ fallback: { kind: 'hang' } });
    const api = createAuthKy(strategy, { ky: instance, timeout: 50 });
    const error = await api.get(`${web.api}/slow`).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(web.seen).toHaveLength(0);
  });

  test('a stream body within 1 MiB is read so that the replay sends the same bytes, through every entry', async () => {
    for (const path of ['/s1', '/s2', '/s3']) web.routes.set(path, rejectFirstCredential());
    const { strategy, events } = setup();
    const api = createAuthKy(strategy, { ky: instance, retry: 0 });
    const stream = (text: string) =>
      new ReadableStream<Uint8Array>({
        start: (c) => (c.enqueue(new TextEncoder().encode(text)), c.close()),
      });
    expect((await api.put(`${web.api}/s1`, { body: stream('method'), duplex: 'half' } as never)).status).toBe(
      200,
    );
    await (strategy as TokenAuthStrategy).tokens.invalidate(
      await (strategy as TokenAuthStrategy).tokens.getToken(),
    );
    expect(
      (await api(`${web.api}/s2`, { method: 'post', body: stream('called'), duplex: 'half' } as never))
        .status,
    ).toBe(200);
    await (strategy as TokenAuthStrategy).tokens.invalidate(
      await (strategy as TokenAuthStrategy).tokens.getToken(),
    );
    const extended = api.extend({ headers: { 'X-Extended': '1' } });
    expect(
      (await extended.post(`${web.api}/s3`, { body: stream('extended'), duplex: 'half' } as never)).status,
    ).toBe(200);
    expect(web.seen.map((s) => s.body)).toEqual([
      'method',
      'method',
      'called',
      'called',
      'extended',
      'extended',
    ]);
    expect(events.map((e) => e.reason)).toEqual(Array(3).fill('replaying'));
  });

  test('a stream body over 1 MiB is sent once, as it streams: the 401 comes back as HTTPError', async () => {
    web.routes.set('/stream', answer(401));
    const { strategy, events } = setup();
    const api = createAuthKy(strategy, { ky: instance, retry: 0 });
    const chunk = new Uint8Array(256 * 1024).fill(65);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => {
        if (pulled < 5) c.enqueue(chunk);
        else c.close();
        pulled += 1;
      },
    });
    const error = await api
      .post(`${web.api}/stream`, { body, duplex: 'half' } as never)
      .catch((e: unknown) => e);
    expect((error as { response?: Response }).response?.status).toBe(401);
    expect(web.seen.map((s) => s.body.length)).toEqual([5 * 256 * 1024]);
    expect(events).toEqual([expect.objectContaining({ reason: 'body-not-replayable' })]);
  });

  test('prefix/prefixUrl, searchParams, the scope parameter and the user hooks compose', async () => {
    const seen: string[] = [];
    const prefixOption = name === 'ky 2' ? { prefix: `${web.api}/api` } : { prefixUrl: `${web.api}/api` };
    const api = createAuthKy(setup().strategy, {
      ky: instance,
      ...prefixOption,
      searchParams: { page: '2' },
      hooks: {
        beforeRequest: [() => void seen.push('beforeRequest')],
        afterResponse: [() => void seen.push('afterResponse')],
      },
    });
    const body = await api.get('patients').json<{ path: string; query: Record<string, string> }>();
    expect(body.path).toBe('/api/patients');
    expect(body.query).toEqual({ page: '2', researchstudy: '17-001' });
    expect(seen).toEqual(['beforeRequest', 'afterResponse']);
  });

  test('throwHttpErrors: false returns the second 401 as a response', async () => {
    web.routes.set('/x', answer(401));
    const api = createAuthKy(setup().strategy, { ky: instance, throwHttpErrors: false, retry: 0 });
    expect((await api.get(`${web.api}/x`)).status).toBe(401);
    expect(web.seen).toHaveLength(2);
  });
});

test('bad arguments fail naming the option', () => {
  const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
  expect(() => createAuthKy(s, { ky: {} as never })).toThrow(/^ky:/);
  expect(() => createAuthKy({} as never)).toThrow(/^strategy:/);
});

test("ky's options are typed by the ky you installed: a wrong one does not compile", () => {
  const strategy = createStaticTokenStrategy({ token: 'typed', origins: ['https://api.example.org'] });
  const build = () => [
    createAuthKy(strategy, { timeout: 5_000, retry: { limit: 1 }, headers: { accept: 'application/json' } }),
    // @ts-expect-error -- timeout is a number of ms (or false), not text
    createAuthKy(strategy, { timeout: 'soon' }),
    // @ts-expect-error -- no such ky option
    createAuthKy(strategy, { retries: 3 }),
  ];
  expect(typeof build).toBe('function'); // compiled is what this test proves (npm run typecheck)
});
