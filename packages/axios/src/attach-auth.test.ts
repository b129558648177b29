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

  test('works with interceptors installed before and after it; documented order', async () => {
    const client = axios.create();
    const order: string[] = [];
    client.interceptors.request.use((config) => (order.push('request:before-auth'), config));
    attachAuth(client, strategy());
    client.interceptors.request.use((config: InternalAxiosRequestConfig) => {
      order.push(`request:after-auth (sees auth: ${config.headers.has('Authorization')})`);
      return config;
    });
    client.interceptors.response.use((response) => (order.push('response:after-auth'), response));
    await client.get(`${sb.urls.echo}/order`);
    // axios runs request interceptors last-added-first.
    expect(order).toEqual([
      'request:after-auth (sees auth: false)',
      'request:before-auth',
      'response:after-auth',
    ]);
    expect(echoes()[0]?.headers.authorization).toMatch(/^Bearer /);
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
    client.interceptors.request.eject(mine); // the user's own interceptor was left in place
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
