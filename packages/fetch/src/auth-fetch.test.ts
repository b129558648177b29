import { describe, expect, test } from 'vitest';
import { createStaticTokenStrategy } from '@authrail/core';
import { mskApim } from '@authrail/msk-apim';
import { demoClients } from '@authrail/sandbox';
import { createAuthFetch } from '@authrail/fetch';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const strategy = () =>
  mskApim({ baseUrl: sb.urls.mskApim.baseUrl, ...demoClients.mskApim, researchStudy: '17-001' });
const echoes = () => sb.resourceRequests({ route: 'echo' });

describe('createAuthFetch', () => {
  test('accepts a string, a URL and a Request, and leaves the caller’s Request usable', async () => {
    const api = createAuthFetch(strategy());
    expect((await api(`${sb.urls.echo}/string`)).status).toBe(200);
    expect((await api(new URL(`${sb.urls.echo}/url`))).status).toBe(200);
    const request = new Request(`${sb.urls.echo}/request`, {
      method: 'PUT',
      body: 'payload',
      headers: { 'X-Mine': '1' },
    });
    expect((await api(request)).status).toBe(200);
    expect(await request.text()).toBe('payload');
    const put = echoes().find((r) => r.path === '/echo/request')!;
    expect([put.method, put.body.toString(), put.headers['x-mine'], put.query.researchstudy]).toEqual([
      'PUT',
      'payload',
      '1',
      '17-001',
    ]);
    expect(echoes().map((r) => r.path)).toEqual(['/echo/string', '/echo/url', '/echo/request']);
  });

  test('a Request input with a body is replayed after a 401 with the same bytes, and stays usable', async () => {
    const api = createAuthFetch(strategy());
    await api(`${sb.urls.echo}/warm`);
    sb.revokeTokens();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array([0, 255, 1])]), 'f.bin');
    const request = new Request(`${sb.urls.echo}/replayed`, { method: 'POST', body: form });
    expect((await api(request)).status).toBe(200);
    const posts = echoes().filter((r) => r.path === '/echo/replayed');
    expect(posts.map((r) => r.status)).toEqual([401, 200]);
    expect(posts[1]!.body.equals(posts[0]!.body)).toBe(true); // same multipart bytes, same boundary
    expect(posts[1]!.headers['content-type']).toBe(posts[0]!.headers['content-type']);
    expect(posts[0]!.headers.authorization).not.toBe(posts[1]!.headers.authorization);
    expect(request.bodyUsed).toBe(false);
  });

  test('a stream init.body with a Request input is one-shot: sent once, the 401 returned', async () => {
    const api = createAuthFetch(strategy());
    sb.inject('echo', { type: 'unauthorized' });
    const body = new ReadableStream<Uint8Array>({
      start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()),
    });
    const response = await api(new Request(`${sb.urls.echo}/once`, { method: 'POST' }), {
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(401);
    expect(echoes().map((r) => r.body.toString())).toEqual(['once']);
  });

  test('init overrides a Request input, as fetch does', async () => {
    const api = createAuthFetch(strategy());
    await api(new Request(`${sb.urls.echo}/merge`, { headers: { 'X-A': 'request' } }), {
      headers: { 'X-A': 'init' },
    });
    expect(echoes()[0]?.headers['x-a']).toBe('init');
  });

  test('a custom fetch is used for the API calls', async () => {
    const sent: string[] = [];
    const api = createAuthFetch(strategy(), {
      fetch: (input, init) => {
        sent.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      },
    });
    await api(`${sb.urls.echo}/custom`);
    await api(`${sb.urls.elsewhere}/custom`);
    expect(sent).toEqual([`${sb.urls.echo}/custom?researchstudy=17-001`, `${sb.urls.elsewhere}/custom`]);
  });

  test('options a Request does not carry (a proxy dispatcher) reach the inner fetch', async () => {
    await fetch(`${sb.urls.elsewhere}/warm-up`); // Node creates its global undici agent on first use
    const dispatcher: unknown = Reflect.get(globalThis, Symbol.for('undici.globalDispatcher.1'));
    expect(dispatcher).toBeDefined();
    const seen: unknown[] = [];
    const api = createAuthFetch(strategy(), {
      fetch: (input, init) => {
        seen.push((init as { dispatcher?: unknown } | undefined)?.dispatcher);
        return fetch(input, init);
      },
    });
    expect((await api(`${sb.urls.echo}/proxied`, { dispatcher } as RequestInit)).status).toBe(200);
    expect((await api(`${sb.urls.elsewhere}/proxied`, { dispatcher } as RequestInit)).status).toBe(200);
    expect(seen).toEqual([dispatcher, dispatcher]);
    expect(echoes()[0]?.headers.authorization).toMatch(/^Bearer /);
  });

  test('bad arguments fail naming the option', () => {
    const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
    expect(() => createAuthFetch({} as never)).toThrow(/^strategy:/);
    expect(() => createAuthFetch(s, { fetch: 'x' as never })).toThrow(/^fetch:/);
  });
});
