import type { ServerResponse } from 'node:http';
import { inspect } from 'node:util';
import { describe, expect, test, vi } from 'vitest';
import {
  ConfigError,
  MissingScopeError,
  RedirectError,
  createApiKeyStrategy,
  createAuthStrategy,
  createMemoryTokenStore,
  createStaticTokenStrategy,
  createTokenManager,
  createToken,
  queryParamScope,
  type DPoPProver,
  type TokenSource,
  type Token,
  type AuthResponse,
  type RejectedEvent,
  type RequestPolicy,
  type UncredentialedEvent,
  type Transport,
} from '@authrail/core';
import { SECRET, fakeSource, manualClock, settle } from '../../test-utils/src/fake-source.js';
import { answer, fetchTransport, request, useOrigins } from '../../test-utils/src/origins.js';

const web = useOrigins();

function setup(extra: Partial<Parameters<typeof createAuthStrategy>[0]> = {}) {
  const source = fakeSource();
  const events: RejectedEvent[] = [];
  const lines: string[] = [];
  const strategy = createAuthStrategy({
    source,
    origins: [web.api],
    on: { rejected: (e) => events.push(e) },
    logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    ...extra,
  });
  const send = (url: string, init: Parameters<typeof request>[1] = {}) =>
    strategy.send(request(url, init), fetchTransport);
  return { source, events, lines, strategy, send };
}

/** A route that answers 401 to a token it has not been told is good, echoing otherwise. */
function revokedUntilFresh(badTokens: Set<string>, challenge?: string) {
  return answer401When((auth) => badTokens.has(auth), challenge);
}

function answer401When(bad: (authorization: string) => boolean, challenge?: string) {
  return (_req: unknown, res: ServerResponse, seen: { headers: Record<string, string | undefined> }) => {
    const auth = seen.headers.authorization ?? '';
    if (bad(auth)) {
      res.writeHead(401, challenge ? { 'www-authenticate': challenge } : {});
      return res.end('nope');
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  };
}

describe('send: the credential goes to allowed origins only', () => {
  test('an allowed origin gets the bearer token; another origin gets nothing and costs no token', async () => {
    const { source, send } = setup({
      policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
    });
    const mine = await send(`${web.api}/fhir/Patient`);
    expect(mine.status).toBe(200);
    const theirs = await send(`${web.other}/x?y=1`, { headers: new Headers({ 'X-Caller': 'kept' }) });
    expect(theirs.status).toBe(200);
    const [first, second] = web.seen;
    expect(first?.headers.authorization).toBe(`Bearer ${source.issued[0]?.accessToken}`);
    expect(first?.query).toEqual({ researchstudy: '17-001' });
    expect(second?.headers.authorization).toBeUndefined();
    expect(second?.headers['x-caller']).toBe('kept');
    expect(second?.query).toEqual({ y: '1' });
    expect(source.calls).toHaveLength(1);
  });

  test('regression (issue 9 #11): a request to an origin not in origins is said once per origin, as a warning and an event', async () => {
    const said: UncredentialedEvent[] = [];
    const warn: string[] = [];
    const { send } = setup({
      on: { uncredentialed: (e) => said.push(e) },
      logger: { warn: (m) => warn.push(m) },
    });
    await send(`${web.other}/a?secret-looking=query`);
    await send(`${web.other}/b`, { method: 'POST', body: 'x' });
    await send(`${web.api}/fhir/Patient`);
    expect(said).toEqual([
      { origin: web.other, method: 'GET', url: `${web.other}/a`, reason: 'not-allowed' },
    ]);
    expect(warn).toEqual([
      `authrail: GET ${web.other}/a went without a credential: ${web.other} is not in origins (add it to origins to send one there; said once per origin; logger: false silences this)`,
    ]);
  });

  test('regression (issue 23): with no logger, a withheld credential is said on console.warn, once per origin; logger: false says nothing', async () => {
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { send } = setup({ logger: undefined });
      await send(`${web.other}/a`);
      await send(`${web.other}/b`);
      await send(`${web.api}/fhir/Patient`);
      expect(warned.mock.calls).toEqual([
        [
          expect.stringMatching(
            new RegExp(
              `^authrail: GET ${web.other}/a went without a credential: ${web.other} is not in origins \\(add it to origins`,
            ),
          ),
        ],
      ]);
      warned.mockClear();
      const quiet = setup({ logger: false });
      await quiet.send(`${web.other}/a`);
      expect(warned).not.toHaveBeenCalled();
    } finally {
      warned.mockRestore();
    }
  });

  test("the caller's request is never changed: its URL and headers stay as they were", async () => {
    const { strategy } = setup({ policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })] });
    const caller = request(`${web.api}/fhir/Patient`, {
      headers: new Headers({ accept: 'application/json' }),
    });
    await strategy.send(caller, fetchTransport);
    expect(web.seen[0]?.query).toEqual({ researchstudy: '17-001' });
    expect(caller.url.href).toBe(`${web.api}/fhir/Patient`);
    expect([...caller.headers]).toEqual([['accept', 'application/json']]);
  });

  test('policies run in order before the credential; a missing scope is refused before any token or request', async () => {
    const order: string[] = [];
    const first: RequestPolicy = () => void order.push('first');
    const { source, send } = setup({
      policies: [first, queryParamScope({ param: 'researchstudy', required: true })],
    });
    await expect(send(`${web.api}/fhir/Patient`)).rejects.toBeInstanceOf(MissingScopeError);
    expect(order).toEqual(['first']);
    expect(source.calls).toHaveLength(0);
    expect(web.seen).toHaveLength(0);
  });

  test("a policy's 'skip' sends the hop without any policy's changes", async () => {
    const mark: RequestPolicy = (r) => void r.headers.set('X-Marked', 'yes');
    const publicPaths: RequestPolicy = (r) => (r.url.pathname.startsWith('/public/') ? 'skip' : undefined);
    const { source, send } = setup({ policies: [mark, publicPaths] });
    await send(`${web.api}/public/metadata`);
    expect(web.seen[0]?.headers['x-marked']).toBeUndefined();
    expect(web.seen[0]?.headers.authorization).toBeUndefined();
    expect(source.calls).toHaveLength(0);
  });

  test('async policies run in order too; a skip after one still sends the hop untouched', async () => {
    const order: string[] = [];
    const slow: RequestPolicy = async (r) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push('slow');
      r.headers.set('X-Slow', 'yes');
    };
    const after: RequestPolicy = (r) => (
      order.push('after'),
      r.url.pathname === '/public' ? 'skip' : undefined
    );
    const { source, send } = setup({ policies: [slow, after] });
    await send(`${web.api}/private`);
    await send(`${web.api}/public`);
    expect(order).toEqual(['slow', 'after', 'slow', 'after']);
    expect(web.seen.map((s) => [s.path, s.headers['x-slow'], s.headers.authorization !== undefined])).toEqual(
      [
        ['/private', 'yes', true],
        ['/public', undefined, false],
      ],
    );
    expect(source.calls).toHaveLength(1);
  });

  test("a policy of the user's own that changes the URL gets a copy on every hop: the caller's URL stays, a replay carries the change once", async () => {
    const tag: RequestPolicy = (r) => void r.url.searchParams.append('tag', 'x');
    const { source, strategy } = setup({ policies: [tag] });
    const bad = new Set<string>();
    web.routes.set('/tagged', revokedUntilFresh(bad));
    await strategy.send(request(`${web.api}/warm-up`), fetchTransport);
    bad.add(`Bearer ${source.issued[0]!.accessToken}`);
    const caller = request(`${web.api}/tagged?q=1`);
    const urls: URL[] = [];
    const response = await strategy.send(caller, (hop) => {
      urls.push(hop.url);
      return fetchTransport(hop);
    });
    expect(response.status).toBe(200);
    expect(web.seen.filter((s) => s.path === '/tagged').map((s) => s.query)).toEqual([
      { q: '1', tag: 'x' },
      { q: '1', tag: 'x' },
    ]);
    expect(caller.url.href).toBe(`${web.api}/tagged?q=1`);
    expect(urls).toHaveLength(2);
    expect(urls[0]).not.toBe(caller.url);
    expect(urls[1]).not.toBe(urls[0]);
  });

  test("each hop is sent on a URL and headers of its own: the caller's request is never changed", async () => {
    const { source, strategy } = setup();
    const bad = new Set<string>();
    web.routes.set('/own', revokedUntilFresh(bad));
    await strategy.send(request(`${web.api}/warm-up`), fetchTransport);
    bad.add(`Bearer ${source.issued[0]!.accessToken}`);
    const caller = request(`${web.api}/own?q=1`, { headers: new Headers({ accept: 'text/plain' }) });
    const hops: { url: URL; headers: Headers }[] = [];
    await strategy.send(caller, (hop) => {
      hops.push({ url: hop.url, headers: hop.headers });
      return fetchTransport(hop);
    });
    expect(hops).toHaveLength(2); // the first hop and its replay
    expect(hops.map((hop) => hop.url.href)).toEqual([caller.url.href, caller.url.href]);
    expect(hops[0]!.url).not.toBe(caller.url);
    expect(hops[1]!.url).not.toBe(hops[0]!.url);
    expect(hops[0]!.headers).not.toBe(caller.headers);
    expect(hops[1]!.headers).not.toBe(hops[0]!.headers);
    expect(hops[0]!.headers.get('authorization')).toBe(`Bearer ${source.issued[0]!.accessToken}`);
    expect(hops[1]!.headers.get('authorization')).toBe(`Bearer ${source.issued[1]!.accessToken}`);
    expect([...caller.headers]).toEqual([['accept', 'text/plain']]);
    expect(caller.url.href).toBe(`${web.api}/own?q=1`);
  });

  test('a caller that changes its own URL object while the request is in flight: the replay still goes where the origin was checked', async () => {
    const { source, strategy } = setup();
    const bad = new Set<string>();
    web.routes.set('/moved', revokedUntilFresh(bad));
    await strategy.send(request(`${web.api}/warm-up`), fetchTransport);
    bad.add(`Bearer ${source.issued[0]!.accessToken}`);
    const caller = request(`${web.api}/moved`);
    const sentTo: string[] = [];
    const response = await strategy.send(caller, (hop) => {
      sentTo.push(hop.url.href);
      const answer = fetchTransport(hop);
      // The caller's code reuses its URL object for another origin meanwhile.
      caller.url.href = `${web.other}/moved`;
      return answer;
    });
    expect(response.status).toBe(200);
    expect(sentTo).toEqual([`${web.api}/moved`, `${web.api}/moved`]);
    expect(web.seen.map((s) => [s.origin, s.path])).toEqual([
      ['api', '/warm-up'],
      ['api', '/moved'],
      ['api', '/moved'],
    ]);
  });

  test("a token from a source of the user's own that no header can carry is never sent", async () => {
    const source: TokenSource = {
      identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'raw' },
      fetchToken: () =>
        Promise.resolve({ ...createToken({ accessToken: 'fine' }), accessToken: 'abc\r\nX-Injected: yes' }),
    };
    const strategy = createAuthStrategy({ source, origins: [web.api] });
    await expect(strategy.send(request(`${web.api}/x`), fetchTransport)).rejects.toMatchObject({
      code: 'AUTHRAIL_TOKEN_RESPONSE_INVALID',
    });
    expect(web.seen).toHaveLength(0);
  });

  test('a custom credential policy replaces bearer', async () => {
    const { source, send } = setup({
      credential: async (r, ctx) => void r.headers.set('X-Token', (await ctx.token()).accessToken),
    });
    await send(`${web.api}/x`);
    expect(web.seen[0]?.headers['x-token']).toBe(source.issued[0]?.accessToken);
    expect(web.seen[0]?.headers.authorization).toBeUndefined();
  });
});

describe('send: a rejected credential', () => {
  test('a plain 401 invalidates exactly the used token and replays once: same method, headers and bytes', async () => {
    const { source, events, send } = setup();
    const bad = new Set<string>();
    web.routes.set('/upload', revokedUntilFresh(bad));
    await send(`${web.api}/warm-up`);
    bad.add(`Bearer ${source.issued[0]!.accessToken}`);
    const body = new TextEncoder().encode('<accrual><id>S-1</id></accrual>');
    const response = await send(`${web.api}/upload`, {
      method: 'PUT',
      headers: new Headers({ 'Content-Type': 'application/xml', 'X-Caller': 'kept' }),
      body,
    });
    expect(response.status).toBe(200);
    const attempts = web.seen.filter((s) => s.path === '/upload');
    expect(attempts.map((a) => a.method)).toEqual(['PUT', 'PUT']);
    expect(attempts.map((a) => a.body)).toEqual([
      '<accrual><id>S-1</id></accrual>',
      '<accrual><id>S-1</id></accrual>',
    ]);
    expect(attempts.map((a) => a.headers['content-type'])).toEqual(['application/xml', 'application/xml']);
    expect(attempts.map((a) => a.headers['x-caller'])).toEqual(['kept', 'kept']);
    expect(attempts[1]?.headers.authorization).toBe(`Bearer ${source.issued[1]!.accessToken}`);
    expect(source.calls).toHaveLength(2);
    expect(events).toEqual([
      { method: 'PUT', url: `${web.api}/upload`, status: 401, replay: true, reason: 'replaying' },
    ]);
  });

  test('always 401: two requests, and the second 401 does not throw the fresh token away', async () => {
    const { source, events, send } = setup();
    web.routes.set('/always', answer(401));
    for (let i = 0; i < 10; i += 1) expect((await send(`${web.api}/always`)).status).toBe(401);
    expect(web.seen).toHaveLength(20);
    // One token per call would be 20; the fresh token survives its own 401, so each call
    // invalidates only the token it started with.
    expect(source.calls).toHaveLength(11);
    expect(events.filter((e) => e.reason === 'already-replayed')).toHaveLength(10);
  });

  test('Bearer error="invalid_token" replays; with rejectWhen invalid-token a plain 401 does not', async () => {
    const strict = setup({ rejectWhen: 'invalid-token' });
    web.routes.set('/plain', answer(401, { 'www-authenticate': 'Bearer realm="api"' }));
    expect((await strict.send(`${web.api}/plain`)).status).toBe(401);
    expect(strict.source.calls).toHaveLength(1);
    expect(strict.events).toEqual([]);

    const bad = new Set<string>();
    web.routes.set(
      '/expired',
      revokedUntilFresh(
        bad,
        'Bearer realm="api", error="invalid_token", error_description="The access token expired"',
      ),
    );
    bad.add(`Bearer ${strict.source.issued[0]!.accessToken}`);
    expect((await strict.send(`${web.api}/expired`)).status).toBe(200);
    expect(strict.source.calls).toHaveLength(2);
    expect(strict.events).toEqual([expect.objectContaining({ replay: true, error: 'invalid_token' })]);
  });

  test.each([401, 403])(
    'a %i with error="insufficient_scope" neither refreshes nor replays; the event names the scope',
    async (status) => {
      const { source, events, send } = setup();
      web.routes.set(
        '/fhir/Observation',
        answer(status, {
          'www-authenticate':
            'DPoP algs="ES256", Bearer realm="fhir", error="insufficient_scope", scope="patient/Observation.rs, x"',
        }),
      );
      expect((await send(`${web.api}/fhir/Observation`)).status).toBe(status);
      expect(web.seen).toHaveLength(1);
      expect(source.calls).toHaveLength(1);
      expect(events).toEqual([
        {
          method: 'GET',
          url: `${web.api}/fhir/Observation`,
          status,
          replay: false,
          reason: 'insufficient-scope',
          error: 'insufficient_scope',
          scope: 'patient/Observation.rs, x',
        },
      ]);
    },
  );

  test('a 403 without that challenge is an ordinary answer', async () => {
    const { source, events, send } = setup();
    web.routes.set('/forbidden', answer(403));
    expect((await send(`${web.api}/forbidden`)).status).toBe(403);
    expect(events).toEqual([]);
    expect(source.calls).toHaveLength(1);
  });

  test('a one-shot stream body is sent once: the 401 comes back and the event says why', async () => {
    const { source, events, send } = setup();
    const bad = new Set<string>();
    web.routes.set('/stream', revokedUntilFresh(bad));
    await send(`${web.api}/warm-up`);
    bad.add(`Bearer ${source.issued[0]!.accessToken}`);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('chunk'));
        c.close();
      },
    });
    const response = await send(`${web.api}/stream`, { method: 'POST', body: stream, bodyIsStream: true });
    expect(response.status).toBe(401);
    expect(web.seen.filter((s) => s.path === '/stream')).toHaveLength(1);
    expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'body-not-replayable' })]);
    // The token was still invalidated: the next request gets a fresh one.
    await send(`${web.api}/after`);
    expect(source.calls).toHaveLength(2);
  });

  test('a 401 from another origin reached by a redirect never touches the token: 10 calls, 1 token', async () => {
    const { source, events, send } = setup();
    web.routes.set('other/denied', answer(401));
    web.routes.set('/go', (_req, res) => {
      res.writeHead(302, { location: `${web.other}/denied` });
      res.end();
    });
    for (let i = 0; i < 10; i += 1) expect((await send(`${web.api}/go`)).status).toBe(401);
    expect(source.calls).toHaveLength(1);
    expect(events).toEqual([]);
    expect(web.seen.filter((s) => s.origin === 'other')).toHaveLength(10);
  });

  test('a static token is never replayed; the event says it cannot be refreshed', async () => {
    const events: RejectedEvent[] = [];
    const strategy = createStaticTokenStrategy({
      token: 'pat-123456',
      origins: [web.api],
      on: { rejected: (e) => events.push(e) },
    });
    web.routes.set('/x', answer(401));
    const response = await strategy.send(request(`${web.api}/x`), fetchTransport);
    expect(response.status).toBe(401);
    expect(web.seen.map((s) => s.headers.authorization)).toEqual(['Bearer pat-123456']);
    expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'not-refreshable' })]);
  });
});

describe('send: redirects, hop by hop', () => {
  const redirect = (status: number, to: () => string) =>
    ((_req, res) => {
      res.writeHead(status, { location: to() });
      res.end();
    }) satisfies Parameters<typeof web.routes.set>[1];

  test.each([301, 302, 303, 307, 308])(
    'a %i to another origin carries no credential: no Authorization, API key header or query key',
    async (status) => {
      web.routes.set(
        '/go',
        redirect(status, () => `${web.other}/landing?from=api`),
      );
      const bearer = setup();
      const apiKeyHeader = createApiKeyStrategy({
        key: 'key-abcdef',
        header: 'Ocp-Apim-Subscription-Key',
        origins: [web.api],
      });
      const apiKeyQuery = createApiKeyStrategy({ key: 'key-abcdef', query: 'api_key', origins: [web.api] });
      for (const strategy of [bearer.strategy, apiKeyHeader, apiKeyQuery]) {
        const caller = request(`${web.api}/go`, {
          headers: new Headers({ 'X-Caller': 'kept', Authorization: 'Basic Y2FsbGVyOm93bg==' }),
        });
        expect((await strategy.send(caller, fetchTransport)).status).toBe(200);
      }
      const first = web.seen.filter((s) => s.origin === 'api');
      const landed = web.seen.filter((s) => s.origin === 'other');
      expect(
        first.map((s) => [
          s.headers.authorization?.split(' ')[0],
          s.headers['ocp-apim-subscription-key'],
          s.query.api_key,
        ]),
      ).toEqual([
        ['Bearer', undefined, undefined],
        ['Basic', 'key-abcdef', undefined],
        ['Basic', undefined, 'key-abcdef'],
      ]);
      expect(landed).toHaveLength(3);
      for (const hop of landed) {
        expect(hop.path).toBe('/landing');
        expect(hop.query).toEqual({ from: 'api' });
        expect(hop.headers.authorization).toBeUndefined(); // neither ours nor the caller's own
        expect(hop.headers['ocp-apim-subscription-key']).toBeUndefined();
        expect(hop.headers['x-caller']).toBe('kept');
      }
    },
  );

  test('a same-origin redirect keeps the credential and re-applies the scope on the new URL', async () => {
    const { source, send } = setup({
      policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
    });
    web.routes.set(
      '/old',
      redirect(301, () => '/new'),
    );
    expect((await send(`${web.api}/old`)).status).toBe(200);
    expect(web.seen.map((s) => [s.path, s.query.researchstudy, s.headers.authorization])).toEqual([
      ['/old', '17-001', `Bearer ${source.issued[0]!.accessToken}`],
      ['/new', '17-001', `Bearer ${source.issued[0]!.accessToken}`],
    ]);
  });

  test('303 turns a POST into a GET without body or body headers; 301/302 do for POST only', async () => {
    const { send } = setup();
    web.routes.set(
      '/see-other',
      redirect(303, () => '/result'),
    );
    web.routes.set(
      '/moved',
      redirect(302, () => '/result'),
    );
    await send(`${web.api}/see-other`, {
      method: 'POST',
      headers: new Headers({ 'content-type': 'application/json' }),
      body: '{"a":1}',
    });
    await send(`${web.api}/moved`, {
      method: 'PUT',
      headers: new Headers({ 'content-type': 'application/json' }),
      body: '{"a":2}',
    });
    const results = web.seen.filter((s) => s.path === '/result');
    expect(results.map((s) => [s.method, s.body, s.headers['content-type']])).toEqual([
      ['GET', '', undefined],
      ['PUT', '{"a":2}', 'application/json'],
    ]);
  });

  test.each([307, 308])('%i resends the same method and bytes', async (status) => {
    const { send } = setup();
    web.routes.set(
      '/temp',
      redirect(status, () => '/final'),
    );
    const body = new Uint8Array([0, 1, 2, 250, 255]);
    await send(`${web.api}/temp`, {
      method: 'POST',
      headers: new Headers({ 'content-type': 'application/octet-stream' }),
      body,
    });
    const [first, final] = web.seen;
    expect(final?.path).toBe('/final');
    expect(final?.method).toBe('POST');
    expect(Buffer.from(final!.body, 'latin1').length).toBe(Buffer.from(first!.body, 'latin1').length);
    expect(final?.body).toBe(first?.body);
  });

  test('a 307 of a one-shot stream body is returned as it is', async () => {
    const { send } = setup();
    web.routes.set(
      '/temp',
      redirect(307, () => '/final'),
    );
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) });
    const response = await send(`${web.api}/temp`, { method: 'POST', body: stream, bodyIsStream: true });
    expect(response.status).toBe(307);
    expect(web.seen.map((s) => s.path)).toEqual(['/temp']);
  });

  test("the caller's redirect mode: manual returns the 3xx, error refuses it", async () => {
    const { send } = setup();
    web.routes.set(
      '/go',
      redirect(302, () => `${web.other}/x`),
    );
    expect((await send(`${web.api}/go`, { redirect: 'manual' })).status).toBe(302);
    const error = await send(`${web.api}/go`, { redirect: 'error' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedirectError);
    expect(error).toMatchObject({ status: 302, location: `${web.other}/x` });
    expect(web.seen.filter((s) => s.origin === 'other')).toHaveLength(0);
  });

  test('a chain is followed hop by hop and ends after 20 redirects', async () => {
    const { send } = setup();
    web.routes.set(
      '/a',
      redirect(302, () => `${web.other}/b`),
    );
    web.routes.set(
      'other/b',
      redirect(307, () => `${web.api}/c`),
    );
    web.routes.set(
      '/c',
      redirect(308, () => '/done'),
    );
    expect((await send(`${web.api}/a`)).status).toBe(200);
    // api → other (no credential) → back to api (credential again, an allowed origin).
    expect(web.seen.map((s) => [s.origin, s.path, s.headers.authorization === undefined])).toEqual([
      ['api', '/a', false],
      ['other', '/b', true],
      ['api', '/c', false],
      ['api', '/done', false],
    ]);
    web.seen.length = 0;
    web.routes.set('/loop', (req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('n') ?? 0);
      res.writeHead(302, { location: `/loop?n=${n + 1}` });
      res.end();
    });
    const error = await send(`${web.api}/loop`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedirectError);
    expect((error as Error).message).toMatch(/more than 20 redirects/);
    expect(web.seen).toHaveLength(21);
  });
});

describe('send: runtimes that follow redirects out of sight (browsers)', () => {
  // A transport as a browser's fetch behaves: it follows redirects itself, dropping only
  // Authorization across origins; with redirect 'manual' a redirect is an opaque response.
  function browserLike(redirectTo: string | undefined) {
    const sent: { redirect: string | undefined; headers: [string, string][] }[] = [];
    const next: Transport<AuthResponse> = async (hop) => {
      sent.push({ redirect: hop.redirect, headers: [...hop.headers] });
      if (redirectTo && hop.redirect === 'manual')
        return { status: 0, headers: new Headers(), url: '', discard() {} };
      return {
        status: redirectTo ? 401 : 200,
        headers: new Headers(),
        url: redirectTo ?? hop.url.href,
        discard() {},
      };
    };
    return { sent, next };
  }

  test("a request carrying only Authorization is sent with the caller's mode", async () => {
    const { strategy } = setup();
    const { sent, next } = browserLike(undefined);
    await strategy.send(request(`${web.api}/x`), next, { transportFollowsRedirects: true });
    expect(sent[0]?.redirect).toBe('follow');
  });

  test('a credential the browser would forward (an API key header) is never followed: RedirectError', async () => {
    const strategy = createApiKeyStrategy({
      key: 'key-abcdef',
      header: 'Ocp-Apim-Subscription-Key',
      origins: [web.api],
    });
    const { sent, next } = browserLike(`${web.other}/elsewhere`);
    const error = await strategy
      .send(request(`${web.api}/x`), next, { transportFollowsRedirects: true })
      .catch((e: unknown) => e);
    expect(sent[0]?.redirect).toBe('manual');
    expect(error).toBeInstanceOf(RedirectError);
    expect((error as Error).message).toMatch(/ocp-apim-subscription-key header/);
    expect((error as Error).message).not.toContain('key-abcdef');
  });

  test('a 401 whose final URL is another origin never touches the token', async () => {
    const { source, events, strategy } = setup();
    const { next } = browserLike(`${web.other}/elsewhere`);
    const response = await strategy.send(request(`${web.api}/x`), next, { transportFollowsRedirects: true });
    expect(response.status).toBe(401);
    expect(source.calls).toHaveLength(1);
    expect(events).toEqual([]);
  });
});

describe('send: abort and errors', () => {
  test("the caller's signal ends the wait for a token; nothing is sent", async () => {
    const source = fakeSource(Date.now, { kind: 'hang' });
    const strategy = createAuthStrategy({ source, origins: [web.api] });
    await expect(
      strategy.send(request(`${web.api}/x`), fetchTransport, { signal: AbortSignal.timeout(20) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(web.seen).toHaveLength(0);
  });

  test('an aborted signal stops the loop between hops', async () => {
    const { strategy } = setup();
    const controller = new AbortController();
    web.routes.set('/go', (_req, res) => {
      controller.abort(new Error('caller gave up'));
      res.writeHead(302, { location: '/next' });
      res.end();
    });
    await expect(
      strategy.send(request(`${web.api}/go`), fetchTransport, { signal: controller.signal }),
    ).rejects.toThrow('caller gave up');
    expect(web.seen.map((s) => s.path)).toEqual(['/go']);
  });

  test('the token endpoint error reaches the caller typed, with no secret in it', async () => {
    const source = fakeSource(Date.now, { kind: 'fail', status: 401, error: 'invalid_client' });
    const strategy = createAuthStrategy({ source, origins: [web.api] });
    const error = await strategy.send(request(`${web.api}/x`), fetchTransport).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TokenEndpointError', error: 'invalid_client' });
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(web.seen).toHaveLength(0);
  });

  test('no token or secret in log lines, events or inspect output', async () => {
    const { source, events, lines, strategy, send } = setup();
    web.routes.set('/x', answer(401));
    await send(`${web.api}/x`);
    const tokens = source.issued.map((t) => t.accessToken);
    const rendered = [
      inspect(strategy, { depth: 8, showHidden: true }),
      JSON.stringify(events),
      lines.join('\n'),
    ].join('\n');
    for (const token of tokens) expect(rendered).not.toContain(token);
    expect(rendered).not.toContain(SECRET);
    expect(lines.some((l) => l.includes('replaying once with a fresh token'))).toBe(true);
  });
});

describe('send: the token on the hot path', () => {
  test('fresh: served at once; stale: served at once with one background refresh; expired: a wait for a new one', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now);
    const tokens = createTokenManager({ source, now: clock.now });
    const strategy = createAuthStrategy({ tokens, origins: [web.api] });
    const sent = () => web.seen.map((s) => s.headers.authorization);
    await strategy.send(request(`${web.api}/a`), fetchTransport);
    await strategy.send(request(`${web.api}/b`), fetchTransport);
    expect(source.calls).toHaveLength(1);
    clock.advance(3_600_000 - 200_000); // inside the refresh-ahead window
    await Promise.all([1, 2, 3].map((i) => strategy.send(request(`${web.api}/stale-${i}`), fetchTransport)));
    expect(new Set(sent()).size).toBe(1); // all served with the current token…
    await settle();
    expect(source.calls).toHaveLength(2); // …while exactly one refresh ran alongside
    await strategy.send(request(`${web.api}/c`), fetchTransport);
    expect(sent().at(-1)).toBe(`Bearer ${source.issued[1]!.accessToken}`);
    clock.advance(3_600_000); // past expiry: the next request waits for a new token
    await strategy.send(request(`${web.api}/d`), fetchTransport);
    expect(source.calls).toHaveLength(3);
    expect(sent().at(-1)).toBe(`Bearer ${source.issued[2]!.accessToken}`);
  });

  test('an async store (no synchronous answer) is read through the token manager', async () => {
    const memory = createMemoryTokenStore();
    const store = {
      get: async (key: string) => memory.get(key),
      set: async (key: string, token: Token) => memory.set(key, token),
      delete: async (key: string, token?: Token) => memory.delete(key, token),
    };
    const source = fakeSource();
    const strategy = createAuthStrategy({ source, store, origins: [web.api] });
    await strategy.send(request(`${web.api}/a`), fetchTransport);
    await strategy.send(request(`${web.api}/b`), fetchTransport);
    expect(source.calls).toHaveLength(1);
    expect(new Set(web.seen.map((s) => s.headers.authorization)).size).toBe(1);
  });
});

describe('construction', () => {
  test.each([
    [{ origins: ['https://api.example.org'] }, 'source'],
    [{ source: fakeSource() }, 'origins'],
    [{ source: fakeSource(), origins: ['http://api.example.org'] }, 'origins'],
    [{ source: fakeSource(), origins: ['https://api.example.org'], rejectWhen: 'sometimes' }, 'rejectWhen'],
    [{ source: fakeSource(), origins: ['https://api.example.org'], policies: ['x'] }, 'policies'],
    [{ source: fakeSource(), origins: ['https://api.example.org'], credential: 'bearer' }, 'credential'],
    [
      { source: fakeSource(), origins: ['https://api.example.org'], refresh: { skewMs: -5 } },
      'refresh.skewMs',
    ],
  ])('bad options fail at construction naming the option (%#)', (options, option) => {
    const make = () => createAuthStrategy(options as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(new RegExp(`^${option.replace('.', '\\.')}:`));
  });

  test('no options at all is a ConfigError too', () => {
    expect(() => createAuthStrategy(undefined as never)).toThrow(ConfigError);
  });

  test.each([
    [() => createStaticTokenStrategy({ token: '', origins: ['https://a.example'] }), 'token'],
    [() => createStaticTokenStrategy({ token: 'has space', origins: ['https://a.example'] }), 'token'],
    [() => createStaticTokenStrategy({ token: 'abc', origins: [] }), 'origins'],
    // regression (issue 9 #4): tokens and keys no header can carry fail here, not on every request
    [() => createStaticTokenStrategy({ token: 'a\u0000b', origins: ['https://a.example'] }), 'token'],
    [() => createStaticTokenStrategy({ token: 'tökén', origins: ['https://a.example'] }), 'token'],
    [() => createStaticTokenStrategy({ token: 'abc\r\nX: y', origins: ['https://a.example'] }), 'token'],
    [
      () =>
        createStaticTokenStrategy({
          token: 'abc',
          tokenType: 'DPoP' as never,
          origins: ['https://a.example'],
        }),
      'tokenType',
    ],
    [() => createApiKeyStrategy({ key: 'k\u0000', origins: ['https://a.example'] }), 'key'],
    [() => createApiKeyStrategy({ key: 'kéy', origins: ['https://a.example'] }), 'key'],
    [() => createApiKeyStrategy({ key: ' key', origins: ['https://a.example'] }), 'key'],
    [() => createApiKeyStrategy({ key: 'k\ud800', query: 'q', origins: ['https://a.example'] }), 'key'],
    [() => createApiKeyStrategy({ key: '', origins: ['https://a.example'] }), 'key'],
    [
      () => createApiKeyStrategy({ key: 'k', header: 'X', query: 'q', origins: ['https://a.example'] }),
      'query',
    ],
    [() => createApiKeyStrategy({ key: 'k', query: '', origins: ['https://a.example'] }), 'query'],
    [
      () => createApiKeyStrategy({ key: 'k', header: 'bad header', origins: ['https://a.example'] }),
      'header',
    ],
  ])('built-in strategies refuse bad options naming them (%#)', (make, option) => {
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(new RegExp(`^${option}:`));
    const error = (() => {
      try {
        make();
      } catch (e) {
        return e as Error;
      }
    })();
    const text = `${error?.message} ${error?.stack} ${inspect(error)}`;
    for (const secret of ['a\u0000b', 'tökén', 'kéy', 'k\u0000']) expect(text).not.toContain(secret);
  });

  test('a key with inner spaces (Authorization: Token abc) and any string in a query are fine', () => {
    expect(() =>
      createApiKeyStrategy({ key: 'Token abc', header: 'Authorization', origins: ['https://a.example'] }),
    ).not.toThrow();
    expect(() =>
      createApiKeyStrategy({ key: 'kéy', query: 'k', origins: ['https://a.example'] }),
    ).not.toThrow();
  });

  test('strategies built on one token manager share its token and single flight', async () => {
    const source = fakeSource();
    const first = createAuthStrategy({
      source,
      origins: [web.api],
      policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
    });
    const second = createAuthStrategy({
      tokens: first.tokens,
      origins: [web.api],
      policies: [queryParamScope({ param: 'researchstudy', value: '20-123' })],
    });
    await Promise.all([
      first.send(request(`${web.api}/fhir/Patient`), fetchTransport),
      second.send(request(`${web.api}/fhir/Patient`), fetchTransport),
    ]);
    expect(web.seen.map((s) => s.query.researchstudy).sort()).toEqual(['17-001', '20-123']);
    expect(new Set(web.seen.map((s) => s.headers.authorization)).size).toBe(1);
    expect(source.calls).toHaveLength(1);
    expect(() => createAuthStrategy({ tokens: first.tokens, source, origins: [web.api] })).toThrow(
      /^source: cannot be given together with tokens/,
    );
    expect(() => createAuthStrategy({ tokens: {} as never, origins: [web.api] })).toThrow(/^tokens:/);
  });
});

describe('DPoP: a proof per hop from the source prover, nonces answered once', () => {
  /** A prover double: the proof names its hop and the nonce it carries; the real one is oauth2's, tested against servers. */
  function prover() {
    const nonces = new Map<string, string>();
    const proofs: string[] = [];
    const dpop: DPoPProver = {
      addProof(url, headers, method, accessToken) {
        const proof = `proof-${proofs.length + 1} ${method} ${url.origin}${url.pathname} ath=${accessToken.length} nonce=${nonces.get(url.origin) ?? '-'}`;
        proofs.push(proof);
        headers.set('DPoP', proof);
        return Promise.resolve();
      },
      cacheNonce(response, url) {
        const nonce = response.headers.get('dpop-nonce');
        if (nonce) nonces.set(url.origin, nonce);
      },
    };
    return { dpop, proofs, nonces };
  }

  function dpopSource(proof: DPoPProver | undefined, tokenType = 'DPoP'): TokenSource & { fetched: number } {
    const source = {
      identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'dpop-client' },
      fetched: 0,
      fetchToken: () => {
        source.fetched += 1;
        return Promise.resolve(
          createToken({ accessToken: `dpop-token-${source.fetched}`, tokenType, expiresIn: 3600 }),
        );
      },
      ...(proof ? { dpop: proof } : {}),
    };
    return source;
  }

  test('every hop gets Authorization: DPoP and a new proof for its own method and URL (replay and redirect hops too)', async () => {
    const { dpop, proofs } = prover();
    const strategy = createAuthStrategy({ source: dpopSource(dpop), origins: [web.api] });
    let first = true;
    web.routes.set('/moved', (_req, res) => {
      res.writeHead(307, { location: `${web.api}/data?x=1` });
      res.end();
    });
    web.routes.set('/data', (_req, res) => {
      res.writeHead(first ? 401 : 200, first ? { 'www-authenticate': 'DPoP error="invalid_token"' } : {});
      first = false;
      res.end();
    });
    const response = await strategy.send(
      request(`${web.api}/moved`, { method: 'POST', body: 'x' }),
      fetchTransport,
    );
    expect(response.status).toBe(200);
    expect(web.seen.map((s) => [s.path, s.headers.authorization, s.headers.dpop])).toEqual([
      ['/moved', 'DPoP dpop-token-1', proofs[0]],
      ['/data', 'DPoP dpop-token-1', proofs[1]],
      ['/data', 'DPoP dpop-token-2', proofs[2]],
    ]);
    expect(proofs[1]).toBe(`proof-2 POST ${web.api}/data ath=12 nonce=-`); // htu without the query
  });

  test('use_dpop_nonce: the nonce is remembered and the request sent once more with the same token; never twice', async () => {
    const { dpop, proofs, nonces } = prover();
    const source = dpopSource(dpop);
    const events: RejectedEvent[] = [];
    const strategy = createAuthStrategy({
      source,
      origins: [web.api],
      on: { rejected: (e) => events.push(e) },
    });
    web.routes.set('/nonce', (_req, res, seen) => {
      const ok = seen.headers.dpop?.endsWith('nonce=n-1');
      res.writeHead(ok ? 200 : 401, {
        'dpop-nonce': 'n-1',
        ...(ok
          ? {}
          : { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"' }),
      });
      res.end();
    });
    expect((await strategy.send(request(`${web.api}/nonce`), fetchTransport)).status).toBe(200);
    expect(source.fetched).toBe(1); // the token was kept
    expect(events).toEqual([
      expect.objectContaining({ reason: 'dpop-nonce', replay: true, error: 'use_dpop_nonce' }),
    ]);
    expect(nonces.get(web.api)).toBe('n-1');
    // The next request carries the nonce from the start.
    expect((await strategy.send(request(`${web.api}/nonce`), fetchTransport)).status).toBe(200);
    expect(proofs.at(-1)).toContain('nonce=n-1');
    // A server that keeps asking gets one more try, then its 401.
    web.routes.set('/always', (_req, res) => {
      res.writeHead(401, {
        'dpop-nonce': `n-${Math.random()}`,
        'www-authenticate': 'DPoP error="use_dpop_nonce"',
      });
      res.end();
    });
    const before = web.seen.length;
    expect((await strategy.send(request(`${web.api}/always`), fetchTransport)).status).toBe(401);
    expect(web.seen.length - before).toBe(2);
    expect(events.at(-1)).toMatchObject({ reason: 'already-replayed', replay: false });
    expect(source.fetched).toBe(1);
  });

  test('a DPoP token without a prover, and a Bearer token where DPoP was asked for, are never sent', async () => {
    const lone = createAuthStrategy({ source: dpopSource(undefined), origins: [web.api] });
    await expect(lone.send(request(`${web.api}/x`), fetchTransport)).rejects.toMatchObject({
      code: 'AUTHRAIL_TOKEN_RESPONSE_INVALID',
      message: expect.stringMatching(/type "DPoP" needs the key it is bound to/) as unknown,
    });
    const downgrade = createAuthStrategy({ source: dpopSource(prover().dpop, 'Bearer'), origins: [web.api] });
    await expect(downgrade.send(request(`${web.api}/x`), fetchTransport)).rejects.toMatchObject({
      message: expect.stringMatching(/asked for a DPoP-bound token but got one of type "Bearer"/) as unknown,
    });
    expect(web.seen).toHaveLength(0);
  });

  test('a strategy on a shared token manager uses the manager source prover', async () => {
    const { dpop, proofs } = prover();
    const tokens = createTokenManager({ source: dpopSource(dpop) });
    const strategy = createAuthStrategy({ tokens, origins: [web.api] });
    await strategy.send(request(`${web.api}/x`), fetchTransport);
    expect(web.seen[0]?.headers.dpop).toBe(proofs[0]);
  });
});
