// The interceptor on real undici 6 and 7, against the sandbox on 127.0.0.1: a real token
// endpoint (client credentials), an API that checks tokens, and bare servers beside it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import * as undici6 from 'undici6';
import * as undici7 from 'undici7';
import {
  ErrorCodes,
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  createToken,
  isConfigError,
  isTokenEndpointError,
  queryParamScope,
  type AuthStrategy,
  type RejectedEvent,
  type TokenAuthStrategy,
} from '@authrail/core';
import { clientCredentials, clientSecretPost } from '@authrail/oauth2';
import { demoClients } from '@authrail/sandbox';
import { useOrigins, useSandbox } from '@authrail/test-utils';
import { authrail, type AuthInterceptorOptions } from './index.js';

type Undici = typeof undici7;
const versions: [string, Undici][] = [
  ['undici 6', undici6 as unknown as Undici],
  ['undici 7', undici7],
];

const sb = useSandbox();
const web = useOrigins();

function msk(
  on: { rejected?: (e: RejectedEvent) => void } = {},
  extra: { policies?: [] } = {},
): TokenAuthStrategy {
  return createAuthStrategy({
    source: clientCredentials({
      server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
      clientId: demoClients.mskApim.clientId,
      clientAuth: clientSecretPost(demoClients.mskApim.clientSecret),
      scope: 'full',
    }),
    origins: [sb.url],
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    on,
    ...extra,
  });
}

const echoed = () => sb.resourceRequests({ route: 'echo' });

describe.each(versions)('%s', (_name, undici) => {
  const agents: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
  });
  /** A fresh Agent composed with the interceptor, closed after the file. */
  function agentWith(routes: Record<string, AuthStrategy>, options?: AuthInterceptorOptions) {
    const agent = new undici.Agent();
    agents.push(agent);
    return agent.compose(authrail(routes, options));
  }
  async function send(
    dispatcher: ReturnType<typeof agentWith>,
    url: string,
    init: Omit<undici7.Dispatcher.RequestOptions, 'origin' | 'path'> = { method: 'GET' },
  ) {
    const res = await undici.request(url, { ...init, dispatcher } as never);
    return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
  }

  test('a rejected token: the request is replayed once with a fresh token, the body the caller reads is the replay', async () => {
    const strategy = msk();
    const dispatcher = agentWith({ [sb.url]: strategy });
    expect((await send(dispatcher, `${sb.urls.echo}/warm-up`)).status).toBe(200);
    sb.revokeTokens();
    const res = await send(dispatcher, `${sb.urls.echo}/again`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ path: '/echo/again' });
    const again = echoed().filter((r) => r.path === '/echo/again');
    expect(again.map((r) => r.status)).toEqual([401, 200]);
    expect(again[1]!.headers.authorization).toBe(`Bearer ${(await strategy.tokens.peek())!.accessToken}`);
    expect(again[0]!.headers.authorization).not.toBe(again[1]!.headers.authorization);
    expect(sb.tokenRequests()).toHaveLength(2);
  });

  test.each([
    ['string', () => 'payload-string'],
    ['Buffer', () => Buffer.from([0, 1, 2, 250, 255])],
    [
      'Readable with a content-length (buffered)',
      () => Readable.from([Buffer.from('part-1;'), Buffer.from('part-2')]),
    ],
  ])('a %s body is replayed with the same bytes', async (kind, make) => {
    const dispatcher = agentWith({ [sb.url]: msk() });
    await send(dispatcher, `${sb.urls.echo}/warm-up`);
    sb.revokeTokens();
    const body = make();
    const length = kind.startsWith('Readable') ? '13' : String(Buffer.byteLength(body as string | Buffer));
    const res = await send(dispatcher, `${sb.urls.echo}/upload`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': length },
    });
    expect(res.status).toBe(200);
    const uploads = echoed().filter((r) => r.path === '/echo/upload');
    expect(uploads.map((r) => r.status)).toEqual([401, 200]);
    expect(uploads[1]!.body.equals(uploads[0]!.body)).toBe(true);
    expect(uploads[0]!.body.length).toBe(Number(length));
  });

  test('a stream body of unknown length is sent once: the caller gets the 401, the event says why', async () => {
    const events: RejectedEvent[] = [];
    const dispatcher = agentWith({ [sb.url]: msk({ rejected: (e) => events.push(e) }) });
    await send(dispatcher, `${sb.urls.echo}/warm-up`);
    sb.revokeTokens();
    const chunks = Array.from({ length: 4 }, () => Buffer.alloc(64 * 1024, 97));
    const res = await send(dispatcher, `${sb.urls.echo}/stream`, {
      method: 'POST',
      body: Readable.from(chunks),
    });
    expect(res.status).toBe(401);
    const sent = echoed().filter((r) => r.path === '/echo/stream');
    expect(sent.map((r) => r.body.length)).toEqual([4 * 64 * 1024]);
    expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'body-not-replayable' })]);
  });

  test('a stream with a content-length over bufferBodiesUpTo is sent once too', async () => {
    const dispatcher = agentWith({ [sb.url]: msk() }, { bufferBodiesUpTo: 4 });
    await send(dispatcher, `${sb.urls.echo}/warm-up`);
    sb.revokeTokens();
    const res = await send(dispatcher, `${sb.urls.echo}/over`, {
      method: 'POST',
      body: Readable.from([Buffer.from('12345')]),
      headers: { 'content-length': '5' },
    });
    expect(res.status).toBe(401);
    expect(echoed().filter((r) => r.path === '/echo/over')).toHaveLength(1);
  });

  test('single flight: 50 parallel requests cause 1 token request', async () => {
    const dispatcher = agentWith({ [sb.url]: msk() });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(dispatcher, `${sb.urls.echo}/p/${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(new Set(echoed().map((r) => r.headers.authorization)).size).toBe(1);
  });

  test('an unrouted origin is untouched, and the debug log says so once per origin', async () => {
    const lines: string[] = [];
    const dispatcher = agentWith({ [sb.url]: msk() }, { logger: { debug: (line) => lines.push(line) } });
    for (let i = 0; i < 2; i += 1) {
      const res = await send(dispatcher, `${web.api}/plain?i=${i}`, {
        method: 'POST',
        headers: { 'x-caller': 'kept', 'content-type': 'text/plain' },
        body: 'as-is',
      });
      expect(res.status).toBe(200);
    }
    expect(
      web.seen.map((r) => [r.path, r.query.i, r.headers.authorization, r.headers['x-caller'], r.body]),
    ).toEqual([
      ['/plain', '0', undefined, 'kept', 'as-is'],
      ['/plain', '1', undefined, 'kept', 'as-is'],
    ]);
    expect(sb.tokenRequests()).toHaveLength(0);
    expect(lines).toEqual([`authrail: ${web.api} is not routed; its requests pass through untouched`]);
  });

  test("the caller's query is folded into the URL core sees, so a scoping policy can add to it", async () => {
    const dispatcher = agentWith({
      [sb.url]: createAuthStrategy({
        source: clientCredentials({
          server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
          clientId: demoClients.mskApim.clientId,
          clientAuth: clientSecretPost(demoClients.mskApim.clientSecret),
          scope: 'full',
        }),
        origins: [sb.url],
        policies: [queryParamScope({ param: 'researchstudy', value: '17-001', required: true })],
      }),
    });
    const res = await send(dispatcher, `${sb.urls.echo}/q`, {
      method: 'GET',
      query: { a: 1, b: ['x', 'y'] },
    });
    expect(res.status).toBe(200);
    const [seen] = echoed();
    expect(seen!.query).toMatchObject({ a: '1', b: 'y', researchstudy: '17-001' });
  });

  test("the caller's maxRedirections is followed by core, hop by hop: nothing below follows it with the credential", async () => {
    // An API key header: undici's own redirect handling drops only Authorization, Cookie
    // and Proxy-Authorization on a hop to another origin; core drops every credential.
    const strategy = createApiKeyStrategy({ key: 'api-key-123456', header: 'X-Api-Key', origins: [sb.url] });
    const dispatcher = agentWith({ [sb.url]: strategy });
    const via = `${sb.urls.redirect}?to=${encodeURIComponent(`${sb.urls.elsewhere}/landed`)}&status=302`;
    const res = await send(dispatcher, via, { method: 'GET', maxRedirections: 3 } as never);
    expect(res.status).toBe(200);
    expect(sb.requests.map((r) => [r.listener, r.path, r.headers['x-api-key']])).toEqual([
      ['main', '/redirect', 'api-key-123456'],
      ['elsewhere', '/landed', undefined],
    ]);
    // Without it, the 3xx is the caller's, as undici gives it (undici 7's own request refuses the option).
    expect((await send(dispatcher, via)).status).toBe(302);
  });

  test("a caller's Host header stays with the caller's origin when core follows a redirect elsewhere", async () => {
    const dispatcher = agentWith({ [sb.url]: msk() });
    const via = `${sb.urls.redirect}?to=${encodeURIComponent(`${web.api}/landed`)}&status=302`;
    const host = new URL(sb.url).host;
    const res = await send(dispatcher, via, {
      method: 'GET',
      headers: { host },
      maxRedirections: 3,
    } as never);
    expect(res.status).toBe(200);
    expect(sb.requests.filter((r) => r.path === '/redirect').map((r) => r.headers.host)).toEqual([host]);
    expect(web.seen.map((r) => [r.path, r.host])).toEqual([['/landed', new URL(web.api).host]]);
  });

  test("the caller's AbortSignal ends the wait for a token: the caller gets its reason, nothing is sent", async () => {
    sb.inject('msk-token', { type: 'hang' });
    const dispatcher = agentWith({ [sb.url]: msk() });
    const error = await send(dispatcher, `${sb.urls.echo}/x`, {
      method: 'GET',
      signal: AbortSignal.timeout(100),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: expect.stringMatching(/AbortError|TimeoutError/) });
    expect(echoed()).toHaveLength(0);
  });

  test('an abort while the response body streams ends the body with the abort, and the hop with it', async () => {
    let closed!: (finished: boolean) => void;
    const hopClosed = new Promise<boolean>((resolve) => (closed = resolve));
    web.routes.set('/slow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      res.on('close', () => closed(res.writableFinished));
      setTimeout(() => res.end('never'), 5_000).unref();
    });
    const controller = new AbortController();
    const strategy = createStaticTokenStrategy({ token: 'static-token-abcdef', origins: [web.api] });
    const dispatcher = agentWith({ [web.api]: strategy });
    const res = await undici.request(`${web.api}/slow`, { dispatcher, signal: controller.signal } as never);
    const reader = res.body[Symbol.asyncIterator]();
    expect(String((await reader.next()).value)).toBe('first;');
    controller.abort(new Error('caller gave up'));
    await expect(reader.next()).rejects.toThrow(/caller gave up|aborted/);
    expect(await hopClosed).toBe(false); // the server saw the hop end before its response did
  });

  test.each([
    ['drained: the socket is kept for the replay', 100, 1],
    ['aborted: too long to drain, the replay takes a new socket', 256 * 1024, 2],
  ])('a discarded 401 body is %s', async (_how, size, connections) => {
    let sockets = 0;
    const server = createServer((req, res) => {
      const first = req.headers.authorization === 'Bearer t1';
      res.writeHead(first ? 401 : 200, { 'content-length': String(first ? size : 2) });
      res.end(first ? Buffer.alloc(size, 120) : 'ok');
    });
    server.on('connection', () => (sockets += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let issued = 0;
    const source = {
      identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'discard-test' },
      fetchToken: async () => createToken({ accessToken: `t${(issued += 1)}` }),
    };
    const agent = new undici.Agent({ connections: 1 });
    agents.push(agent);
    const dispatcher = agent.compose(
      authrail({ [origin]: createAuthStrategy({ source, origins: [origin] }) }),
    );
    try {
      const res = await send(dispatcher, `${origin}/x`);
      expect([res.status, res.text, issued]).toEqual([200, 'ok', 2]);
      expect(sockets).toBe(connections);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('an upgrade to a routed origin passes through untouched, and the debug log says so', async () => {
    const lines: string[] = [];
    const server = createServer();
    const seen: (string | undefined)[] = [];
    server.on('upgrade', (req, socket) => {
      seen.push(req.headers.authorization);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const strategy = createStaticTokenStrategy({ token: 'upgrade-token-123', origins: [origin] });
    const dispatcher = agentWith({ [origin]: strategy }, { logger: { debug: (line) => lines.push(line) } });
    try {
      const { socket } = await undici.upgrade(`${origin}/ws`, { dispatcher, upgrade: 'echo' } as never);
      socket.destroy();
      expect(seen).toEqual([undefined]);
      expect(lines).toEqual([
        `authrail: an upgrade or CONNECT request to ${origin} passes through without a credential`,
      ]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a token endpoint failure reaches undici.request as the TokenEndpointError, with no secret in it', async () => {
    sb.inject('msk-token', { type: 'status', status: 503 });
    const dispatcher = agentWith({ [sb.url]: msk() });
    const error = await send(dispatcher, `${sb.urls.echo}/x`).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 503 });
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(demoClients.mskApim.clientSecret);
    expect(echoed()).toHaveLength(0);
  });

  test("no token in undici's errors of a failed hop, nor in the dispatcher's inspect output", async () => {
    const strategy = msk();
    const dispatcher = agentWith({ [sb.url]: strategy });
    await send(dispatcher, `${sb.urls.echo}/warm-up`);
    sb.inject('echo', { type: 'reset' });
    const error = await send(dispatcher, `${sb.urls.echo}/reset`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const token = (await strategy.tokens.peek())!.accessToken;
    const rendered = [
      inspect(error, { depth: 10, showHidden: true }),
      inspect(dispatcher, { depth: 6, showHidden: true }),
    ];
    for (const text of rendered) expect(text).not.toContain(token);
  });
});

describe('options are checked at construction', () => {
  const strategy = { send: () => Promise.reject(new Error('unused')) } as AuthStrategy;
  test.each([
    [{ 'https://a.example/path': strategy }, 'entry 0 (https://a.example) must be an origin only'],
    [{ 'a.example': strategy }, 'entry 0 must be an origin only'],
    [{ 'ftp://a.example': strategy }, 'entry 0 must be an origin only'],
    [{ 'https://a.example?x=1': strategy }, 'entry 0 (https://a.example) must be an origin only'],
    [{ 'https://a.example?': strategy }, 'entry 0 (https://a.example) must be an origin only'],
    [{ 'https://user:pw-s3cret@a.example': strategy }, 'entry 0 (https://a.example) must be an origin only'],
    [
      { 'https://b.example': strategy, 'https://a.example': {} },
      'entry 1 (https://a.example) must be an AuthStrategy',
    ],
    [
      { 'https://a.example': strategy, 'https://a.example:443': strategy },
      'entry 1 routes https://a.example again',
    ],
    [{}, 'must route at least one origin'],
    [null, 'must be an object or a Map'],
    [[['https://a.example', strategy]], 'must be an object or a Map'],
  ])('routes %o → a ConfigError naming routes: %s', (routes, message) => {
    const error = (() => {
      try {
        authrail(routes as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isConfigError(error)).toBe(true);
    expect(error).toMatchObject({ option: 'routes', message: expect.stringContaining(`routes: ${message}`) });
    expect(inspect(error, { showHidden: true })).not.toContain('s3cret');
  });

  test.each([
    [{ bufferBodiesUpTo: -1 }, 'bufferBodiesUpTo'],
    [{ bufferBodiesUpTo: 1.5 }, 'bufferBodiesUpTo'],
    [{ bufferBodiesUpTo: '1024' }, 'bufferBodiesUpTo'],
    [{ logger: {} }, 'logger'],
    [{ logger: { debug: 'no' } }, 'logger'],
    [{ followRedirects: true }, 'followRedirects'],
  ])('options %o → a ConfigError naming %s', (options, option) => {
    expect(() => authrail({ 'https://a.example': strategy }, options as never)).toThrow(
      expect.objectContaining({ name: 'ConfigError', option }),
    );
  });

  test('a Map of routes, origins normalised (default port, trailing slash), and the options that exist', () => {
    const routes = new Map([
      ['https://a.example:443/', strategy],
      ['http://b.example:8080', strategy],
    ]);
    expect(typeof authrail(routes, { bufferBodiesUpTo: 0, logger: false })).toBe('function');
    expect(typeof authrail({ 'https://a.example': strategy }, { logger: console })).toBe('function');
  });
});
