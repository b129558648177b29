// Two strategies, three origins, every way a redirect is followed; the global fetch; the
// interceptor among undici's own (redirect, retry, dns) in either order; a real CONNECT proxy.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as undici6 from 'undici6';
import * as undici7 from 'undici7';
import {
  createAuthStrategy,
  createStaticTokenStrategy,
  type RequestPolicy,
  type TokenAuthStrategy,
} from '@authrail/core';
import { clientCredentials, clientSecretBasic, clientSecretPost } from '@authrail/oauth2';
import { demoClients } from '@authrail/sandbox';
import { rejectFirstCredential, redirectTo, useOrigins, useSandbox } from '@authrail/test-utils';
import { authrail } from './index.js';

type Undici = typeof undici7;
type Dispatcher = undici7.Dispatcher;
const versions: [string, Undici][] = [
  ['undici 6', undici6 as unknown as Undici],
  ['undici 7', undici7],
];

const sb = useSandbox();
const web = useOrigins();
const fast = { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } };

/** Origin A: the sandbox's API, whose tokens come from its MSK token endpoint. */
function mskFor(origin: string, policies: RequestPolicy[] = []): TokenAuthStrategy {
  return createAuthStrategy({
    source: clientCredentials({
      server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
      clientId: demoClients.mskApim.clientId,
      clientAuth: clientSecretPost(demoClients.mskApim.clientSecret),
      scope: 'full',
    }),
    origins: [origin],
    policies,
    ...fast,
  });
}

/** Origin B: a bare server, with tokens from the sandbox's Okta. */
function oktaFor(origin: string, policies: RequestPolicy[] = []): TokenAuthStrategy {
  return createAuthStrategy({
    source: clientCredentials({
      server: { issuer: sb.urls.okta.issuer, tokenEndpoint: sb.urls.okta.tokenEndpoint },
      clientId: demoClients.okta.clientId,
      clientAuth: clientSecretBasic(demoClients.okta.clientSecret),
      scope: 'ctrp.accrual',
    }),
    origins: [origin],
    policies,
    ...fast,
  });
}

const via = (to: string) => `${sb.urls.redirect}?to=${encodeURIComponent(to)}&status=302`;

/** Installs `dispatcher` as the global one for `run`, then puts the previous one back. */
async function withGlobal<T>(undici: Undici, dispatcher: Dispatcher, run: () => Promise<T>): Promise<T> {
  const previous = undici.getGlobalDispatcher();
  undici.setGlobalDispatcher(dispatcher);
  try {
    return await run();
  } finally {
    undici.setGlobalDispatcher(previous);
  }
}

describe.each(versions)('%s', (_name, undici) => {
  const agents: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
  });
  const agent = () => {
    const made = new undici.Agent();
    agents.push(made);
    return made;
  };
  const status = async (url: string, dispatcher: Dispatcher, extra: object = {}) => {
    const res = await undici.request(url, { dispatcher, ...extra } as never);
    await res.body.text();
    return res.statusCode;
  };

  describe('two strategies, three origins: each credential reaches only its own origin, on every hop', () => {
    let a: string, b: string, c: string;
    let msk: TokenAuthStrategy, okta: TokenAuthStrategy;
    beforeAll(() => {
      [a, b, c] = [sb.url, web.api, web.other];
    });
    const routes = () => {
      msk = mskFor(a);
      okta = oktaFor(b);
      return { [a]: msk, [b]: okta }; // c: no route
    };
    const followers: [string, () => (url: string) => Promise<number>][] = [
      [
        "core, for undici.request's maxRedirections",
        () => {
          const dispatcher = agent().compose(authrail(routes()));
          return (url) => status(url, dispatcher, { maxRedirections: 5 });
        },
      ],
      [
        "undici's redirect interceptor, outside",
        () => {
          const dispatcher = agent().compose(
            authrail(routes()),
            undici.interceptors.redirect({ maxRedirections: 5 }),
          );
          return (url) => status(url, dispatcher);
        },
      ],
      [
        'the global fetch, after setGlobalDispatcher',
        () => {
          const dispatcher = agent().compose(authrail(routes()));
          return (url) =>
            withGlobal(undici, dispatcher, async () => {
              const res = await fetch(url);
              await res.arrayBuffer();
              return res.status;
            });
        },
      ],
    ];

    let seenA = 0;
    let seenWeb = 0;
    /** From here on, `carried()` says what each origin saw. */
    function mark() {
      seenA = sb.requests.length;
      seenWeb = web.seen.length;
    }
    /** Who carried what since the mark: every request each origin saw (token requests aside), by the credential's owner. */
    async function carried() {
      const tokenA = `Bearer ${(await msk.tokens.peek())?.accessToken}`;
      const tokenB = `Bearer ${(await okta.tokens.peek())?.accessToken}`;
      const owner = (authorization: string | undefined) =>
        authorization === undefined
          ? '-'
          : authorization === tokenA
            ? 'A'
            : authorization === tokenB
              ? 'B'
              : '?';
      const atA = sb.requests
        .slice(seenA)
        .filter((r) => r.listener === 'main' && !/token$/.test(r.route ?? ''));
      const atWeb = web.seen.slice(seenWeb);
      const at = (origin: string) =>
        atWeb.filter((s) => s.origin === origin).map((s) => `${s.path}:${owner(s.headers.authorization)}`);
      mark();
      return {
        A: atA.map((r) => `${r.path}:${owner(r.headers.authorization)}`),
        B: at('api'),
        C: at('other'),
      };
    }

    test.each(followers)('followed by %s', async (name, make) => {
      web.routes.set(
        'api/to-a',
        redirectTo(302, () => `${sb.urls.echo}/from-b`),
      );
      web.routes.set(
        'api/to-c',
        redirectTo(302, () => `${c}/from-b`),
      );
      web.routes.set(
        'api/to-b',
        redirectTo(307, () => `${b}/landed`),
      );
      const send = make();
      const coreFollows = name.startsWith('core');
      mark();

      expect(await send(via(`${b}/from-a`))).toBe(200); // A → B
      expect(await carried()).toEqual({
        A: ['/redirect:A'],
        // core follows within A's strategy: B is not A's, so nothing; anyone else re-enters the routes
        B: [`/from-a:${coreFollows ? '-' : 'B'}`],
        C: [],
      });
      expect(await send(via(`${c}/from-a`))).toBe(200); // A → C
      expect(await carried()).toEqual({ A: ['/redirect:A'], B: [], C: ['/from-a:-'] });
      // B → A: A's API checks tokens; only its own gets through
      expect(await send(`${b}/to-a`)).toBe(coreFollows ? 401 : 200);
      expect(await carried()).toEqual({
        A: [`/echo/from-b:${coreFollows ? '-' : 'A'}`],
        B: ['/to-a:B'],
        C: [],
      });
      expect(await send(`${b}/to-c`)).toBe(200); // B → C
      expect(await carried()).toEqual({ A: [], B: ['/to-c:B'], C: ['/from-b:-'] });
      expect(await send(`${b}/to-b`)).toBe(200); // B → B, a 307
      expect(await carried()).toEqual({ A: [], B: ['/to-b:B', '/landed:B'], C: [] });
    });
  });

  describe('the global fetch, after setGlobalDispatcher', () => {
    const revoked = async (dispatcher: Dispatcher, init: RequestInit) =>
      withGlobal(undici, dispatcher, async () => {
        await (await fetch(`${sb.urls.echo}/warm-up`)).arrayBuffer();
        sb.revokeTokens();
        const res = await fetch(`${sb.urls.echo}/post`, init);
        await res.arrayBuffer();
        return res.status;
      });
    const posts = () => sb.resourceRequests({ route: 'echo' }).filter((r) => r.path === '/echo/post');

    test('a POST is replayed after a 401 with the same bytes: fetch hands the body over as a stream, buffered', async () => {
      const dispatcher = agent().compose(authrail({ [sb.url]: mskFor(sb.url) }));
      const status = await revoked(dispatcher, { method: 'POST', body: '{"resourceType":"Patient"}' });
      expect(status).toBe(200);
      expect(posts().map((r) => [r.status, r.body.toString()])).toEqual([
        [401, '{"resourceType":"Patient"}'],
        [200, '{"resourceType":"Patient"}'],
      ]);
    });

    test('with bufferBodiesUpTo: 0 the POST is sent once and its 401 returned', async () => {
      const dispatcher = agent().compose(authrail({ [sb.url]: mskFor(sb.url) }, { bufferBodiesUpTo: 0 }));
      expect(await revoked(dispatcher, { method: 'POST', body: 'once' })).toBe(401);
      expect(posts().map((r) => r.status)).toEqual([401]);
    });

    test('the previous global dispatcher is back afterwards: nothing is authenticated any more', async () => {
      const dispatcher = agent().compose(authrail({ [web.api]: oktaFor(web.api) }));
      await withGlobal(undici, dispatcher, async () => (await fetch(`${web.api}/on`)).arrayBuffer());
      await (await fetch(`${web.api}/off`)).arrayBuffer();
      expect(web.seen.map((s) => [s.path, s.headers.authorization !== undefined])).toEqual([
        ['/on', true],
        ['/off', false],
      ]);
    });

    test('a token endpoint failure: TypeError fetch failed, its cause the TokenEndpointError', async () => {
      sb.inject('msk-token', { type: 'status', status: 503 });
      const dispatcher = agent().compose(authrail({ [sb.url]: mskFor(sb.url) }));
      const error = await withGlobal(undici, dispatcher, () => fetch(`${sb.urls.echo}/x`)).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({
        message: 'fetch failed',
        cause: { name: 'TokenEndpointError', status: 503 },
      });
    });

    test('an AbortSignal ends the wait for a token', async () => {
      sb.inject('msk-token', { type: 'hang' });
      const dispatcher = agent().compose(authrail({ [sb.url]: mskFor(sb.url) }));
      const error = await withGlobal(undici, dispatcher, () =>
        fetch(`${sb.urls.echo}/x`, { signal: AbortSignal.timeout(100) }),
      ).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'TimeoutError' });
    });
  });

  describe("among undici's own interceptors (the last listed is the outermost)", () => {
    test('redirect outside (recommended): every hop comes through authrail; inside: a routed redirect is not followed at all', async () => {
      const okta = oktaFor(web.api);
      web.routes.set(
        'api/hop',
        redirectTo(302, () => `${web.api}/landed`),
      );
      web.routes.set(
        'other/hop',
        redirectTo(302, () => `${web.other}/landed`),
      );
      const redirect = () => undici.interceptors.redirect({ maxRedirections: 3 });
      const outside = agent().compose(authrail({ [web.api]: okta }), redirect());
      expect(await status(`${web.api}/hop`, outside)).toBe(200);
      expect(web.seen.map((s) => [s.path, s.headers.authorization !== undefined])).toEqual([
        ['/hop', true],
        ['/landed', true],
      ]);
      web.seen.length = 0;
      // Inside, redirect would follow out of authrail's sight with the hop's credential: every
      // routed hop goes with maxRedirections: 0, so the caller gets the 3xx. Unrouted requests
      // are the redirect interceptor's as ever.
      const inside = agent().compose(redirect(), authrail({ [web.api]: okta }));
      expect(await status(`${web.api}/hop`, inside)).toBe(302);
      expect(await status(`${web.other}/hop`, inside)).toBe(200);
      expect(web.seen.map((s) => [s.origin, s.path])).toEqual([
        ['api', '/hop'],
        ['other', '/hop'],
        ['other', '/landed'],
      ]);
    });

    test('retry outside (recommended): each attempt runs the loop; inside: one hop, retried below it; a 401 is never retry’s', async () => {
      let policyRuns = 0;
      const counted: RequestPolicy = () => {
        policyRuns += 1;
      };
      let answered = 0;
      web.routes.set('api/flaky', (_req, res) => {
        answered += 1;
        res.writeHead(answered % 2 === 1 ? 503 : 200).end();
      });
      const retry = () =>
        undici.interceptors.retry({
          maxRetries: 2,
          minTimeout: 1,
          maxTimeout: 2,
          statusCodes: [503],
          retryAfter: false,
        });
      const outside = agent().compose(authrail({ [web.api]: oktaFor(web.api, [counted]) }), retry());
      expect(await status(`${web.api}/flaky`, outside)).toBe(200);
      expect([policyRuns, web.seen.length]).toEqual([2, 2]);
      const inside = agent().compose(retry(), authrail({ [web.api]: oktaFor(web.api, [counted]) }));
      expect(await status(`${web.api}/flaky`, inside)).toBe(200);
      expect([policyRuns, web.seen.length]).toEqual([3, 4]);
      expect(web.seen.every((s) => s.headers.authorization?.startsWith('Bearer '))).toBe(true);

      web.seen.length = 0;
      web.routes.set('api/revoked', rejectFirstCredential());
      const okta = oktaFor(web.api);
      const replayed = agent().compose(authrail({ [web.api]: okta }), retry());
      expect(await status(`${web.api}/revoked`, replayed)).toBe(200);
      expect(web.seen).toHaveLength(2); // the 401 and authrail's replay; retry did not add one
      expect(sb.tokenRequests({ service: 'okta' }).length).toBeGreaterThanOrEqual(2);
    });

    test('dns inside (recommended): the route matches the host name; outside, the origin is an address and nothing is routed', async () => {
      const strategy = createStaticTokenStrategy({ token: 'dns-token-123456', origins: [web.other] });
      const dns = () => undici.interceptors.dns({ affinity: 4, dualStack: false });
      const inside = agent().compose(dns(), authrail({ [web.other]: strategy }));
      expect(await status(`${web.other}/named`, inside)).toBe(200);
      const outside = agent().compose(authrail({ [web.other]: strategy }), dns());
      expect(await status(`${web.other}/addressed`, outside)).toBe(200);
      expect(web.seen.map((s) => [s.path, s.headers.authorization])).toEqual([
        ['/named', 'Bearer dns-token-123456'],
        ['/addressed', undefined],
      ]);
    });
    // undici 7's cache interceptor (undici 6 has none, so the test is not made there).
    const cache = (undici.interceptors as { cache?: typeof undici7.interceptors.cache }).cache;
    if (cache)
      test('cache inside (recommended): an authenticated response is not stored; outside, it is served again without authrail', async () => {
        let answered = 0;
        web.routes.set('api/cacheable', (_req, res) => {
          answered += 1;
          res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`answer ${answered}`);
        });
        const text = async (url: string, dispatcher: Dispatcher) =>
          (await undici.request(url, { dispatcher })).body.text();
        const okta = oktaFor(web.api);
        const inside = agent().compose(cache(), authrail({ [web.api]: okta }));
        expect([
          await text(`${web.api}/cacheable`, inside),
          await text(`${web.api}/cacheable`, inside),
        ]).toEqual(['answer 1', 'answer 2']);
        const outside = agent().compose(authrail({ [web.api]: okta }), cache());
        expect([
          await text(`${web.api}/cacheable`, outside),
          await text(`${web.api}/cacheable`, outside),
        ]).toEqual([
          'answer 3',
          'answer 3', // from the cache: authrail was not asked, the server not either
        ]);
        expect(web.seen.map((s) => s.headers.authorization?.startsWith('Bearer '))).toEqual([
          true,
          true,
          true,
        ]);
      });
  });

  describe('through a proxy', () => {
    let proxy: { url: string; connects: string[]; plain: IncomingMessage[]; close(): Promise<void> };
    beforeAll(async () => {
      proxy = await startProxy();
    });
    afterAll(() => proxy.close());

    test('ProxyAgent composed with it: routed by the target origin, the CONNECT carries no token, a 401 is replayed', async () => {
      const dispatcher = new undici.ProxyAgent({ uri: proxy.url });
      agents.push(dispatcher);
      const composed = dispatcher.compose(authrail({ [sb.url]: mskFor(sb.url) }));
      expect(await status(`${sb.urls.echo}/first`, composed)).toBe(200);
      sb.revokeTokens();
      expect(await status(`${sb.urls.echo}/second`, composed)).toBe(200);
      const echoes = sb.resourceRequests({ route: 'echo' });
      expect(echoes.map((r) => [r.path, r.status])).toEqual([
        ['/echo/first', 200],
        ['/echo/second', 401],
        ['/echo/second', 200],
      ]);
      expect(proxy.connects.length).toBeGreaterThan(0);
      expect(proxy.connects.every((line) => line === `CONNECT ${new URL(sb.url).host} -`)).toBe(true);
      expect(proxy.plain).toHaveLength(0);
    });

    test('EnvHttpProxyAgent composed with it: the same, with the proxy taken from its options', async () => {
      const dispatcher = new undici.EnvHttpProxyAgent({
        httpProxy: proxy.url,
        httpsProxy: proxy.url,
        noProxy: '',
      });
      agents.push(dispatcher);
      const composed = dispatcher.compose(authrail({ [sb.url]: mskFor(sb.url) }));
      const before = proxy.connects.length;
      expect(await status(`${sb.urls.echo}/env-first`, composed)).toBe(200);
      sb.revokeTokens();
      expect(await status(`${sb.urls.echo}/env-second`, composed)).toBe(200);
      const echoes = sb.resourceRequests({ route: 'echo' }).filter((r) => r.path.startsWith('/echo/env-'));
      expect(echoes.map((r) => [r.path, r.status])).toEqual([
        ['/echo/env-first', 200],
        ['/echo/env-second', 401],
        ['/echo/env-second', 200],
      ]);
      expect(proxy.connects.length).toBeGreaterThan(before);
      expect(proxy.connects.every((line) => line === `CONNECT ${new URL(sb.url).host} -`)).toBe(true);
      expect(proxy.plain).toHaveLength(0);
    });
  });
});

/** A CONNECT proxy on 127.0.0.1 that records each tunnel it opens (and its Authorization, if any). */
async function startProxy() {
  const connects: string[] = [];
  const plain: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    plain.push(req);
    res.writeHead(405).end();
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    connects.push(`CONNECT ${req.url} ${req.headers.authorization ?? '-'}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => (socket === client ? upstream : client).destroy());
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    plain,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
