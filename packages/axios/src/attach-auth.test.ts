// The axios adapter on its own: a strategy over a fake token source, bare local servers.
// Provider + adapter behaviour, and the CommonJS consumer, are the conformance package's.
import { Agent as HttpAgent } from 'node:http';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import axios, { AxiosError, type InternalAxiosRequestConfig } from 'axios';
import {
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  queryParamScope,
  type AuthStrategy,
  type RequestPolicy,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import {
  answer,
  fakeSource,
  rejectFirstCredential,
  useOrigins,
  type FakeSource,
  type Step,
} from '@authrail/test-utils';

const web = useOrigins();

function setup(
  policies: RequestPolicy[] = [],
  fallback?: Step,
): { strategy: AuthStrategy; source: FakeSource } {
  const source = fakeSource(Date.now, fallback);
  const strategy = createAuthStrategy({
    source,
    origins: [web.api],
    policies: [queryParamScope({ param: 'researchstudy', value: '17-001' }), ...policies],
  });
  return { strategy, source };
}

describe('attachAuth', () => {
  test('baseURL + params + the scope parameter compose into the final URL', async () => {
    const client = axios.create({ baseURL: `${web.api}/api` });
    attachAuth(client, setup().strategy);
    const { data } = await client.get<{ path: string; query: Record<string, string> }>('/patients', {
      params: { page: 2 },
    });
    expect(data.path).toBe('/api/patients');
    expect(data.query).toEqual({ page: '2', researchstudy: '17-001' });
  });

  test('policies see the Content-Type axios chose for an object body, and may change it', async () => {
    const fhir: RequestPolicy = (request) => {
      if (request.headers.get('content-type')?.startsWith('application/json'))
        request.headers.set('Content-Type', 'application/fhir+json');
    };
    const client = axios.create();
    attachAuth(client, setup([fhir]).strategy);
    await client.post(`${web.api}/Patient`, { resourceType: 'Patient' });
    await client.post(`${web.api}/Binary`, 'raw text', { headers: { 'Content-Type': 'text/plain' } });
    expect(web.seen.map((s) => s.headers['content-type'])).toEqual(['application/fhir+json', 'text/plain']);
  });

  test('interceptors added before and after run once each and never see the credential', async () => {
    const client = axios.create();
    const order: string[] = [];
    client.interceptors.request.use(
      (config) => (order.push(`before ${config.headers.has('Authorization')}`), config),
    );
    attachAuth(client, setup().strategy);
    client.interceptors.request.use((config: InternalAxiosRequestConfig) => {
      order.push(`after ${config.headers.has('Authorization')}`);
      config.url = `${web.api}/rewritten`; // the final URL is the one authorized
      return config;
    });
    client.interceptors.response.use((response) => (order.push(`response ${response.status}`), response));
    web.routes.set('/rewritten', rejectFirstCredential());
    await client.get(`${web.other}/original`);
    expect(order).toEqual(['after false', 'before false', 'response 200']); // the 401 was replayed inside
    expect(web.seen.map((s) => [s.origin, s.path, s.headers.authorization?.startsWith('Bearer ')])).toEqual([
      ['api', '/rewritten', true],
      ['api', '/rewritten', true],
    ]);
  });

  test('a replayed 401 runs response interceptors once (a `response => response.data` one is not applied twice)', async () => {
    const client = axios.create();
    attachAuth(client, setup().strategy);
    client.interceptors.response.use((response) => response.data as never);
    web.routes.set('/unwrapped', rejectFirstCredential());
    const data = (await client.post(`${web.api}/unwrapped`, {
      nested: { list: [1, 2] },
      text: 'ü',
    })) as unknown as {
      method: string;
    };
    expect(data.method).toBe('POST');
    const [first, replay] = web.seen;
    expect(replay?.body).toBe(first?.body); // the same serialised bytes
    expect(JSON.parse(replay!.body)).toEqual({ nested: { list: [1, 2] }, text: 'ü' });
  });

  test('validateStatus accepting 401: replayed once, then the second 401 returned as a response', async () => {
    web.routes.set('/lenient', answer(401));
    const { strategy, source } = setup();
    const client = axios.create({ validateStatus: () => true });
    attachAuth(client, strategy);
    expect((await client.get(`${web.api}/lenient`)).status).toBe(401);
    expect(web.seen).toHaveLength(2);
    expect(source.calls).toHaveLength(2);
  });

  test('HTTP errors stay AxiosError; nothing in them, or in a response, carries the credential', async () => {
    web.routes.set('/denied', answer(401));
    web.routes.set('/fine', answer(200, { 'content-type': 'text/plain' }, 'fine')); // no echo of the request
    const { strategy, source } = setup();
    const client = axios.create();
    attachAuth(client, strategy);
    const ok = await client.get(`${web.api}/fine`);
    const error = await client.post(`${web.api}/denied`, { a: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(401);
    const rendered = [
      inspect(error, { depth: 8, showHidden: true }),
      JSON.stringify(error),
      JSON.stringify((error as AxiosError).toJSON()),
      inspect(ok, { depth: 8, showHidden: true }),
      inspect((error as AxiosError).response, { depth: 8 }),
    ].join('\n');
    expect(source.issued.length).toBeGreaterThanOrEqual(2);
    for (const token of source.issued) expect(rendered).not.toContain(token.accessToken);
    // In place of Node's ClientRequest, which carries the credential: where the hop went.
    expect((error as AxiosError).request).toEqual({
      method: 'POST',
      url: `${web.api}/denied?researchstudy=[redacted]`, // a query value a policy set may be a credential
      note: 'authrail: the request object is held back, as it carries the credential',
    });
    expect(ok.request).toMatchObject({ method: 'GET', url: `${web.api}/fine?researchstudy=[redacted]` });
    expect(ok.config.headers.Authorization).toBeUndefined();
  });

  test('an API key sent as a query parameter is in no AxiosError, response or request it holds', async () => {
    web.routes.set('/keyed', answer(401));
    const key = 'query-key-9b2e4d';
    const client = axios.create({ httpAgent: new HttpAgent() }); // an agent of your own: it holds its sockets' requests
    attachAuth(client, createApiKeyStrategy({ key, query: 'api_key', origins: [web.api] }));
    const error = (await client
      .get(`${web.api}/keyed`, { params: { page: 2 } })
      .catch((e: unknown) => e)) as AxiosError;
    expect(error.response?.status).toBe(401);
    expect(web.seen[0]?.query).toEqual({ page: '2', api_key: key }); // it was sent
    const rendered = [inspect(error, { depth: 8, showHidden: true }), JSON.stringify(error)].join('\n');
    expect(rendered).not.toContain(key);
    expect(error.request).toMatchObject({ url: `${web.api}/keyed?page=2&api_key=[redacted]` });
  });

  test('maxRedirects: 0 gets the 3xx as axios would; otherwise redirects are followed hop by hop', async () => {
    web.routes.set('/go', (_req, res) => {
      res.writeHead(302, { location: `${web.other}/landed` });
      res.end();
    });
    const client = axios.create();
    attachAuth(client, setup().strategy);
    const manual = await client.get(`${web.api}/go`, { maxRedirects: 0 }).catch((e: unknown) => e);
    expect((manual as AxiosError).response?.status).toBe(302);
    expect((await client.get(`${web.api}/go`)).status).toBe(200);
    expect(web.seen.map((s) => [s.origin, s.path, s.headers.authorization === undefined])).toEqual([
      ['api', '/go', false],
      ['api', '/go', false],
      ['other', '/landed', true],
    ]);
  });

  test("an abort or axios' timeout while the token is fetched is axios' own error", async () => {
    const client = axios.create({ timeout: 50, transitional: { clarifyTimeoutError: true } });
    attachAuth(client, setup([], { kind: 'hang' }).strategy);
    const timedOut = await client.get(`${web.api}/slow-token`).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(AxiosError);
    expect((timedOut as AxiosError).code).toBe(AxiosError.ETIMEDOUT);
    const aborted = await client
      .get(`${web.api}/slow-token`, { timeout: 0, signal: AbortSignal.timeout(30) })
      .catch((e: unknown) => e);
    expect(axios.isCancel(aborted)).toBe(true);
    expect(web.seen).toHaveLength(0);
  });

  test("detach puts back exactly the adapter it wrapped, and leaves the user's interceptors and adapters alone", async () => {
    const client = axios.create();
    const mine = client.interceptors.request.use((config) => config);
    const before = client.defaults.adapter;
    const detach = attachAuth(client, setup().strategy);
    expect(client.defaults.adapter).not.toBe(before);
    detach();
    expect(client.defaults.adapter).toBe(before);
    await client.get(`${web.api}/after-detach`);
    expect(web.seen[0]?.headers.authorization).toBeUndefined();
    const handlers = (client.interceptors.request as unknown as { handlers: unknown[] }).handlers;
    expect(handlers.filter(Boolean)).toHaveLength(1); // the user's own interceptor is still there
    client.interceptors.request.eject(mine);
    // A user adapter installed after attachAuth is not undone by detach.
    const second = attachAuth(client, setup().strategy);
    const theirs = axios.getAdapter('http');
    client.defaults.adapter = theirs;
    second();
    expect(client.defaults.adapter).toBe(theirs);
  });

  test('the token request never goes through the instance (no self-deadlock)', async () => {
    const client = axios.create();
    const seen: string[] = [];
    client.interceptors.request.use((config) => (seen.push(client.getUri(config)), config));
    const { strategy, source } = setup();
    attachAuth(client, strategy);
    await client.get(`${web.api}/x`);
    expect(source.calls).toHaveLength(1);
    expect(seen).toEqual([`${web.api}/x`]);
  });

  test('bad arguments fail naming the option', () => {
    const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
    expect(() => attachAuth({} as never, s)).toThrow(/^instance:/);
    expect(() => attachAuth(axios.create(), {} as never)).toThrow(/^strategy:/);
  });
});
