// The fetch adapter on its own: a strategy over a fake token source, bare local servers.
// What every adapter must guarantee with real providers is the conformance table's job.
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  queryParamScope,
  type AuthStrategy,
  type RejectedEvent,
} from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { answer, fakeSource, redirectTo, rejectFirstCredential, useOrigins } from '@authrail/test-utils';

const web = useOrigins();

function strategy(): { strategy: AuthStrategy; tokens: () => string[] } {
  const source = fakeSource();
  const built = createAuthStrategy({
    source,
    origins: [web.api],
    policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
  });
  return { strategy: built, tokens: () => source.issued.map((t) => t.accessToken) };
}

describe('createAuthFetch', () => {
  test('accepts a string, a URL and a Request, and leaves the caller’s Request usable', async () => {
    const api = createAuthFetch(strategy().strategy);
    expect((await api(`${web.api}/string`)).status).toBe(200);
    expect((await api(new URL(`${web.api}/url`))).status).toBe(200);
    const request = new Request(`${web.api}/request`, {
      method: 'PUT',
      body: 'payload',
      headers: { 'X-Mine': '1' },
    });
    expect((await api(request)).status).toBe(200);
    expect(await request.text()).toBe('payload');
    expect(
      web.seen.map((s) => [s.path, s.method, s.query.researchstudy, s.headers.authorization?.split(' ')[0]]),
    ).toEqual([
      ['/string', 'GET', '17-001', 'Bearer'],
      ['/url', 'GET', '17-001', 'Bearer'],
      ['/request', 'PUT', '17-001', 'Bearer'],
    ]);
    expect(web.seen[2]).toMatchObject({ body: 'payload', headers: { 'x-mine': '1' } });
  });

  test('fetch’s method rules: the six standard methods upper-cased, any other kept as given', async () => {
    const api = createAuthFetch(strategy().strategy);
    await api(`${web.api}/m`, { method: 'delete' });
    await api(`${web.api}/m`, { method: 'PATCH', body: 'x' });
    expect(web.seen.map((s) => s.method)).toEqual(['DELETE', 'PATCH']);
  });

  test('a Request input’s own fields go along to every hop; fields left at fetch’s defaults are not passed', async () => {
    const sent: [RequestInfo | URL, RequestInit][] = [];
    // A bearer token only: no policy moves the URL, so the first hop goes to the Request's own.
    const bearerOnly = createStaticTokenStrategy({ token: 'static-token-1', origins: [web.api] });
    const api = createAuthFetch(bearerOnly, {
      fetch: (input, init) => (sent.push([input, { ...init }]), fetch(input, init)),
    });
    const fields = {
      cache: 'no-store',
      credentials: 'include',
      keepalive: true,
      referrerPolicy: 'no-referrer',
    } as const;
    const own = new Request(`${web.api}/fields`, fields);
    web.routes.set(
      '/fields',
      redirectTo(307, () => `${web.api}/moved`),
    );
    await api(own);
    await api(new Request(`${web.api}/defaults`));
    // The first hop goes to the Request's own URL: the Request itself, its fields with it.
    expect(sent[0]![0]).toBe(own);
    // The redirect hop goes elsewhere: a URL, and the Request's fields in init.
    expect(sent[1]![0]).toBeInstanceOf(URL);
    expect(sent[1]![1]).toMatchObject(fields);
    // A Request's fields at fetch's defaults are not passed: the hop's headers and mode only.
    expect(Object.keys(sent[2]![1]).sort()).toEqual(['headers', 'redirect']);
  });

  test('every header of the hop is in the init fetch gets, one named __proto__ too', async () => {
    const sent: Headers[] = [];
    const api = createAuthFetch(strategy().strategy, {
      fetch: (input, init) => (sent.push(new Headers(init?.headers)), fetch(input, init)),
    });
    // A record cannot carry a key named __proto__; some runtimes send such a header.
    await api(`${web.api}/named`, {
      headers: [
        ['__proto__', 'kept'],
        ['X-Mine', '1'],
      ],
    });
    await api(`${web.api}/plain`, { headers: { 'X-Mine': '2' } });
    expect(sent.map((h) => [h.get('__proto__'), h.get('x-mine'), h.get('authorization')])).toEqual([
      ['kept', '1', expect.stringMatching(/^Bearer /)],
      [null, '2', expect.stringMatching(/^Bearer /)],
    ]);
    expect(web.seen.map((s) => s.headers['x-mine'])).toEqual(['1', '2']);
  });

  test('a string input is sent as a URL and init: no Request is built for it', async () => {
    const inputs: unknown[] = [];
    const api = createAuthFetch(strategy().strategy, {
      fetch: (input, init) => (inputs.push(input), fetch(input, init)),
    });
    await api(`${web.api}/plain`);
    expect(inputs).toHaveLength(1);
    expect(inputs[0]).toBeInstanceOf(URL);
  });

  test('a Request input with a FormData body is replayed after a 401 with the same bytes, and stays usable', async () => {
    const { strategy: s, tokens } = strategy();
    web.routes.set('/replayed', rejectFirstCredential());
    const api = createAuthFetch(s);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array([0, 255, 1])]), 'f.bin');
    const request = new Request(`${web.api}/replayed`, { method: 'POST', body: form });
    expect((await api(request)).status).toBe(200);
    const [first, replay] = web.seen;
    expect(replay?.body).toBe(first?.body); // the same multipart bytes, the same boundary
    expect(replay?.headers['content-type']).toBe(first?.headers['content-type']);
    expect([first?.headers.authorization, replay?.headers.authorization]).toEqual(
      tokens().map((t) => `Bearer ${t}`),
    );
    expect(request.bodyUsed).toBe(false);
  });

  test.each([307, 308])(
    'a same-origin %i of a POST follows with the same bytes (ArrayBuffer, FormData)',
    async (status) => {
      web.routes.set(
        '/temp',
        redirectTo(status, () => '/final'),
      );
      const api = createAuthFetch(strategy().strategy);
      const bytes = new Uint8Array([1, 2, 3, 250]);
      expect((await api(`${web.api}/temp`, { method: 'POST', body: bytes.buffer })).status).toBe(200);
      const form = new FormData();
      form.append('a', 'b');
      expect((await api(`${web.api}/temp`, { method: 'POST', body: form })).status).toBe(200);
      const finals = web.seen.filter((s) => s.path === '/final');
      const temps = web.seen.filter((s) => s.path === '/temp');
      expect(finals.map((s) => s.method)).toEqual(['POST', 'POST']);
      expect(finals.map((s) => s.body)).toEqual(temps.map((s) => s.body));
    },
  );

  test('a stream body is one-shot: sent once, the 401 returned', async () => {
    web.routes.set('/once', answer(401));
    const api = createAuthFetch(strategy().strategy);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()),
    });
    const response = await api(new Request(`${web.api}/once`, { method: 'POST' }), {
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(401);
    expect(web.seen.map((s) => s.body)).toEqual(['once']);
  });

  test.each([
    ['a Node Readable', () => Readable.from([Buffer.from('on'), Buffer.from('ce')])],
    [
      'an async generator',
      () =>
        (async function* () {
          yield new TextEncoder().encode('on');
          yield new TextEncoder().encode('ce');
        })(),
    ],
  ])(
    'regression (issue 22): %s body is one-shot too: sent once, the 401 returned, the event says why',
    async (_name, make) => {
      web.routes.set('/once', answer(401));
      const events: RejectedEvent[] = [];
      const built = createAuthStrategy({
        source: fakeSource(),
        origins: [web.api],
        on: { rejected: (e) => events.push(e) },
      });
      const api = createAuthFetch(built);
      const init = { method: 'POST', body: make(), duplex: 'half' } as unknown as RequestInit;
      const response = await api(`${web.api}/once`, init);
      expect(response.status).toBe(401);
      expect(web.seen.map((s) => s.body)).toEqual(['once']);
      expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'body-not-replayable' })]);
    },
  );

  test('init overrides a Request input, as fetch does', async () => {
    const api = createAuthFetch(strategy().strategy);
    await api(new Request(`${web.api}/merge`, { headers: { 'X-A': 'request' } }), {
      headers: { 'X-A': 'init' },
    });
    expect(web.seen[0]?.headers['x-a']).toBe('init');
  });

  test('the custom fetch sends every hop; options a Request does not carry (a proxy dispatcher) reach each', async () => {
    await fetch(`${web.other}/warm-up`); // Node creates its global undici agent on first use
    web.seen.length = 0;
    const dispatcher: unknown = Reflect.get(globalThis, Symbol.for('undici.globalDispatcher.1'));
    expect(dispatcher).toBeDefined();
    const sent: [string, unknown][] = [];
    web.routes.set(
      '/hop',
      redirectTo(302, () => `${web.other}/landed`),
    );
    const api = createAuthFetch(strategy().strategy, {
      fetch: (input, init) => (
        sent.push([String(input), (init as { dispatcher?: unknown }).dispatcher]),
        fetch(input, init)
      ),
    });
    expect((await api(`${web.api}/hop`, { dispatcher } as RequestInit)).status).toBe(200);
    expect(sent).toEqual([
      [`${web.api}/hop?researchstudy=17-001`, dispatcher],
      [`${web.other}/landed`, dispatcher],
    ]);
  });

  test('an API key header crosses no redirect to another origin, where fetch itself would forward it', async () => {
    web.routes.set(
      '/go',
      redirectTo(302, () => `${web.other}/landed`),
    );
    const api = createAuthFetch(
      createApiKeyStrategy({ key: 'key-abcdef', header: 'Ocp-Apim-Subscription-Key', origins: [web.api] }),
    );
    expect((await api(`${web.api}/go`)).status).toBe(200);
    expect(web.seen.map((s) => [s.origin, s.headers['ocp-apim-subscription-key']])).toEqual([
      ['api', 'key-abcdef'],
      ['other', undefined],
    ]);
  });

  test("redirects: 'runtime' lets the runtime follow (browsers); a forwarded credential is refused", async () => {
    const modes: (RequestRedirect | undefined)[] = [];
    const spy: typeof fetch = (input, init) => (modes.push(init?.redirect), fetch(input, init));
    web.routes.set(
      '/go',
      redirectTo(302, () => `${web.other}/landed`),
    );
    const bearer = createAuthFetch(strategy().strategy, { fetch: spy, redirects: 'runtime' });
    expect((await bearer(`${web.api}/go`)).status).toBe(200); // Node's fetch followed it, dropping Authorization
    const apiKey = createAuthFetch(
      createApiKeyStrategy({ key: 'key-abcdef', header: 'X-Key', origins: [web.api] }),
      { fetch: spy, redirects: 'runtime' },
    );
    await expect(apiKey(`${web.api}/go`)).rejects.toMatchObject({ name: 'RedirectError' });
    expect(modes).toEqual([undefined, 'manual']); // follow: fetch's default, not passed; manual where a credential would be forwarded
    expect(web.seen.filter((s) => s.origin === 'other').map((s) => s.headers['x-key'])).toEqual([undefined]);
  });

  test("the caller's redirect and signal apply", async () => {
    web.routes.set(
      '/go',
      redirectTo(302, () => '/there'),
    );
    const api = createAuthFetch(strategy().strategy);
    expect((await api(`${web.api}/go`, { redirect: 'manual' })).status).toBe(302);
    await expect(api(`${web.api}/go`, { redirect: 'error' })).rejects.toMatchObject({
      name: 'RedirectError',
    });
    await expect(api(`${web.api}/x`, { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow(
      'stop',
    );
  });

  test('bad arguments fail naming the option', () => {
    const s = createStaticTokenStrategy({ token: 'tok-1234', origins: ['https://api.example.org'] });
    expect(() => createAuthFetch({} as never)).toThrow(/^strategy:/);
    expect(() => createAuthFetch(s, { fetch: 'x' as never })).toThrow(/^fetch:/);
    expect(() => createAuthFetch(s, { redirects: 'sometimes' as never })).toThrow(/^redirects:/);
  });
});
