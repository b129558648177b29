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
