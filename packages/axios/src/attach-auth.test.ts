import { describe, expect, test } from 'vitest';
import axios, { AxiosError, type InternalAxiosRequestConfig } from 'axios';
import { createStaticTokenStrategy } from '@authrail/core';
import { mskApim } from '@authrail/msk-apim';
import { demoClients } from '@authrail/sandbox';
import { attachAuth } from '@authrail/axios';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const strategy = () =>
  mskApim({ baseUrl: sb.urls.mskApim.baseUrl, ...demoClients.mskApim, researchStudy: '17-001' });
const echoes = () => sb.resourceRequests({ route: 'echo' });

describe('attachAuth', () => {
  test('baseURL + params + the scope parameter compose into the final URL', async () => {
    const client = axios.create({ baseURL: `${sb.urls.echo}/api` });
    attachAuth(client, strategy());
    const { data } = await client.get<{ path: string; query: Record<string, string> }>('/patients', {
      params: { page: 2 },
    });
    expect(data.path).toBe('/echo/api/patients');
    expect(data.query).toEqual({ page: '2', researchstudy: '17-001' });
  });

  test('works with interceptors installed before and after it: each runs once; authorization happens at dispatch', async () => {
    const client = axios.create();
    const order: string[] = [];
    client.interceptors.request.use((config) => {
      order.push(`request:before-auth (auth: ${config.headers.has('Authorization')})`);
      return config;
    });
    attachAuth(client, strategy());
    client.interceptors.request.use((config: InternalAxiosRequestConfig) => {
      order.push(`request:after-auth (auth: ${config.headers.has('Authorization')})`);
      config.url = `${sb.urls.echo}/rewritten`; // a later interceptor changes the URL: the final one is authorized
      return config;
    });
    client.interceptors.response.use((response) => (order.push('response:before-auth'), response));
    client.interceptors.response.use((response) => (order.push('response:after-auth'), response));
    await client.get(`${sb.urls.elsewhere}/original`);
    // axios runs request interceptors last-added-first, response interceptors first-added-first.
    expect(order).toEqual([
      'request:after-auth (auth: false)',
      'request:before-auth (auth: false)',
      'response:before-auth',
      'response:after-auth',
    ]);
    expect(
      echoes().map((r) => [r.path, r.headers.authorization?.startsWith('Bearer '), r.query.researchstudy]),
    ).toEqual([['/echo/rewritten', true, '17-001']]);
  });

  test('regression: a replayed 401 runs response interceptors once (a `response => response.data` interceptor is not applied twice)', async () => {
    const client = axios.create();
    attachAuth(client, strategy());
    const seen: string[] = [];
    client.interceptors.request.use((config) => (seen.push('request'), config));
    client.interceptors.response.use(
      (response) => (seen.push(`response ${response.status}`), response.data as never),
    );
    await client.get(`${sb.urls.echo}/warm`);
    seen.length = 0;
    sb.revokeTokens();
    const data = (await client.post(`${sb.urls.echo}/unwrapped`, { a: 1 })) as unknown as { method: string };
    expect(data.method).toBe('POST');
    expect(seen).toEqual(['request', 'response 200']);
    expect(
      echoes()
        .filter((r) => r.path === '/echo/unwrapped')
        .map((r) => r.status),
    ).toEqual([401, 200]);
  });

  test('validateStatus accepting 401: the request is still replayed once, and a second 401 is returned as a response', async () => {
    const client = axios.create({ validateStatus: () => true });
    attachAuth(client, strategy());
    sb.inject('echo', { type: 'unauthorized' });
    const response = await client.get(`${sb.urls.echo}/lenient`);
    expect(response.status).toBe(401);
    expect(echoes().map((r) => r.status)).toEqual([401, 401]);
    expect(sb.tokenRequests()).toHaveLength(2);
  });

  test('a per-request adapter is authorized too, and re-sending error.config does not authorize twice', async () => {
    const client = axios.create();
    attachAuth(client, strategy());
    const adapted: string[] = [];
    const http = axios.getAdapter('http');
    const adapter = (config: InternalAxiosRequestConfig) => (adapted.push(String(config.url)), http(config));
    sb.inject('echo', { type: 'unauthorized' });
    const error = (await client
      .get(`${sb.urls.echo}/own-adapter`, { adapter })
      .catch((e: unknown) => e)) as AxiosError;
    expect(error.response?.status).toBe(401);
    expect(adapted).toHaveLength(2);
    expect(adapted.every((url) => url.endsWith('/echo/own-adapter?researchstudy=17-001'))).toBe(true);
    sb.clearFaults();
    const again = await client.request(error.config!);
    expect(again.status).toBe(200);
    expect(adapted).toHaveLength(3);
    expect(echoes().map((r) => r.status)).toEqual([401, 401, 200]);
  });

  test("axios' timeout while the token is fetched is axios' timeout error (ETIMEDOUT when clarified)", async () => {
    sb.inject('msk-token', { type: 'hang' });
    const client = axios.create({ timeout: 50, transitional: { clarifyTimeoutError: true } });
    attachAuth(client, strategy());
    const error = await client.get(`${sb.urls.echo}/slow-token`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).code).toBe(AxiosError.ETIMEDOUT);
    expect(echoes()).toHaveLength(0);
  });

  test('detach removes exactly its own interceptors', async () => {
    const client = axios.create();
    const mine = client.interceptors.request.use((config) => config);
    const detach = attachAuth(client, strategy());
    detach();
    await client.get(`${sb.urls.elsewhere}/after-detach`);
    await expect(client.get(`${sb.urls.echo}/after-detach`)).rejects.toMatchObject({
      response: { status: 401 },
    });
    expect(echoes()[0]?.headers.authorization).toBeUndefined();
    expect(sb.tokenRequests()).toHaveLength(0);
    // the user's own interceptor was left in place, and nothing else of authrail's is
    const handlers = (client.interceptors.request as unknown as { handlers: unknown[] }).handlers;
    expect(handlers.filter(Boolean)).toHaveLength(1);
    expect(
      (client.interceptors.response as unknown as { handlers: unknown[] }).handlers.filter(Boolean),
    ).toHaveLength(0);
    client.interceptors.request.eject(mine);
  });

  test('HTTP errors stay AxiosError; a 401 is replayed once and then rejected as AxiosError', async () => {
    const client = axios.create();
    attachAuth(client, strategy());
    const notFound = await client.get(`${sb.url}/nothing`).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(AxiosError);
    expect((notFound as AxiosError).response?.status).toBe(404);
    sb.inject('echo', { type: 'unauthorized' });
    const rejected = await client.get(`${sb.urls.echo}/x`).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(AxiosError);
    expect((rejected as AxiosError).response?.status).toBe(401);
    expect(echoes()).toHaveLength(2);
  });

  test('the token request never goes through the instance (no self-deadlock)', async () => {
    const client = axios.create();
    const seen: string[] = [];
    client.interceptors.request.use((config) => (seen.push(client.getUri(config)), config));
    attachAuth(client, strategy());
    await client.get(`${sb.urls.echo}/x`);
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(seen.every((url) => !url.includes('/oauth2/token'))).toBe(true);
  });

  test('a JSON object body is replayed with the same bytes', async () => {
    const client = axios.create();
    attachAuth(client, strategy());
    await client.get(`${sb.urls.echo}/warm`);
    sb.revokeTokens();
    await client.post(`${sb.urls.echo}/json`, { nested: { list: [1, 2, 3] }, text: 'ü' });
    const posts = echoes().filter((r) => r.path === '/echo/json');
    expect(posts.map((r) => r.status)).toEqual([401, 200]);
    expect(posts[1]!.body.equals(posts[0]!.body)).toBe(true);
    expect(JSON.parse(posts[1]!.body.toString())).toEqual({ nested: { list: [1, 2, 3] }, text: 'ü' });
  });

  test('bad arguments fail naming the option', () => {
    const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
    expect(() => attachAuth({} as never, s)).toThrow(/^instance:/);
    expect(() => attachAuth(axios.create(), {} as never)).toThrow(/^strategy:/);
  });
});
