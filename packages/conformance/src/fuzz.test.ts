// Fuzzing with fast-check: token responses, WWW-Authenticate headers and redirect chains
// over real HTTP; option objects through every factory; request URLs (ports, IPv6,
// userinfo, IDN, trailing dots, case) through core's origin check. The properties: no
// untyped throw, and no credential to an origin outside the allowlist. Case counts are
// fixed (RUNS) so the closing report can state them.
import axios from 'axios';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import {
  createApiKeyStrategy,
  createAuthStrategy,
  isAuthrailError,
  isConfigError,
  isTokenEndpointError,
  queryParamScope,
  type AuthRequest,
  type AuthResponse,
  type AuthStrategy,
  type Transport,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';
import * as undici6 from 'undici';
import * as undici7 from 'undici7';
import ky from 'ky';
import ky1 from 'ky1';
import { clientCredentials, clientSecretPost } from '@authrail/oauth2';
import { fakeSource, fetchTransport, redirectTo, request, useOrigins } from '@authrail/test-utils';
import { FACTORIES } from './factories.js';

const web = useOrigins();

/** Cases per property; their sum is what the suite reports as run. */
const RUNS = {
  tokenResponses: 300,
  challenges: 300,
  redirectChains: 150,
  optionValues: 25,
  urls: 2000,
} as const;
const ran: Record<string, number> = {};
afterAll(() => {
  const { tokensIssued, ...cases } = ran;
  const total = Object.values(cases).reduce((a, b) => a + b, 0);
  console.info(
    `fuzz: ${total} cases run (${JSON.stringify(cases)}); ${tokensIssued ?? 0} token responses accepted`,
  );
});
const count = (name: string) => () => void (ran[name] = (ran[name] ?? 0) + 1);

/** Any JSON-ish value a broken server might put in a field. */
const wild = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, 0, -1, 1e14, Number.MAX_SAFE_INTEGER, '', '3600', 'bearer', 'DPoP'),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

describe('token responses', () => {
  test(`any token endpoint answer ends in a usable Token or a TokenEndpointError (${RUNS.tokenResponses} cases)`, async () => {
    let answer = { status: 200, type: 'application/json', body: '' };
    web.routes.set('/token', (_req, res) => {
      res.writeHead(answer.status, { 'content-type': answer.type });
      res.end(answer.body);
    });
    const source = clientCredentials({
      server: { issuer: web.api, tokenEndpoint: `${web.api}/token` },
      clientId: 'fuzz',
      clientAuth: clientSecretPost('fuzz-client-secret'),
    });
    await fc.assert(
      fc.asyncProperty(
        // Mostly a good answer with one to three fields made wild (openid-client refuses
        // a wholly wild one before our checks run), sometimes wild throughout.
        fc.oneof(
          fc
            .tuple(
              fc.record(
                { access_token: wild, token_type: wild, expires_in: wild, refresh_token: wild, scope: wild },
                { requiredKeys: [] },
              ),
              fc.subarray(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope'], {
                minLength: 1,
                maxLength: 3,
              }),
            )
            .map(([odd, keys]) => {
              const fields: Record<string, unknown> = {
                access_token: 'fuzz-access-token',
                token_type: 'Bearer',
                expires_in: 3600,
              };
              for (const key of keys) {
                if (key in odd) fields[key] = odd[key as keyof typeof odd];
                else delete fields[key];
              }
              return fields;
            }),
          fc.record(
            {
              access_token: wild,
              token_type: wild,
              expires_in: wild,
              refresh_token: wild,
              scope: wild,
              error: wild,
              error_description: wild,
            },
            { requiredKeys: [] },
          ),
        ),
        fc.constantFrom(200, 200, 200, 200, 200, 400, 401, 429, 500, 503),
        fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/html', 'text/plain'),
        fc.constantFrom(false, false, false, true),
        async (fields, status, type, mangle) => {
          count('tokenResponses')();
          const json = JSON.stringify(fields);
          answer = { status, type, body: mangle ? json.slice(0, Math.max(1, json.length - 3)) : json };
          const result = await source.fetchToken({}).then(
            (token) => ({ token }),
            (error: unknown) => ({ error }),
          );
          if ('token' in result) {
            count('tokensIssued')();
            expect(status).toBe(200);
            expect(result.token.accessToken).toMatch(/^[\x21-\x7e]+$/);
            expect(result.token.tokenType).toBe('Bearer');
            // (A token of a few characters may occur in any text by chance.)
            if (result.token.accessToken.length >= 8)
              expect(String(result.token)).not.toContain(result.token.accessToken);
          } else {
            expect(isTokenEndpointError(result.error), String(result.error)).toBe(true);
          }
        },
      ),
      { numRuns: RUNS.tokenResponses },
    );
  });
});

describe('WWW-Authenticate', () => {
  test(`any challenge on a 401 returns a response, replays at most once, never throws (${RUNS.challenges} cases)`, async () => {
    let challenge = '';
    web.routes.set('/challenged', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': challenge });
      res.end();
    });
    const header = fc.oneof(
      fc.stringMatching(/^[\x20-\x7e\t]{0,120}$/),
      fc
        .tuple(
          fc.constantFrom('Bearer', 'bearer', 'DPoP', 'Basic', 'Negotiate', ''),
          fc.array(
            fc.tuple(
              fc.constantFrom('error', 'scope', 'realm', 'error_description', 'x', ''),
              fc.constantFrom(
                'invalid_token',
                'insufficient_scope',
                '"a b"',
                '"unterminated',
                '',
                '==',
                '"\\""',
              ),
            ),
            { maxLength: 4 },
          ),
          fc.constantFrom(', ', ',', ' ', ',,'),
        )
        .map(([scheme, params, sep]) => `${scheme} ${params.map(([k, v]) => `${k}=${v}`).join(sep)}`.trim()),
    );
    await fc.assert(
      fc.asyncProperty(
        header,
        fc.constantFrom('unauthorized', 'invalid-token') as fc.Arbitrary<'unauthorized' | 'invalid-token'>,
        async (value, rejectWhen) => {
          count('challenges')();
          challenge = value;
          const source = fakeSource();
          const strategy = createAuthStrategy({ source, origins: [web.api], rejectWhen, logger: false });
          const response = await strategy.send(request(`${web.api}/challenged`), fetchTransport);
          expect(response.status).toBe(401);
          expect(source.calls.length).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: RUNS.challenges },
    );
  });
});

describe('redirect chains', () => {
  type Hop = { to: 'api' | 'other'; status: 301 | 302 | 303 | 307 | 308 };
  const chain = fc.array(
    fc.record({
      to: fc.constantFrom('api', 'other') as fc.Arbitrary<'api' | 'other'>,
      status: fc.constantFrom(301, 302, 303, 307, 308) as fc.Arbitrary<Hop['status']>,
    }),
    { minLength: 1, maxLength: 5 },
  );
  const strategies = (): Record<string, AuthStrategy> => ({
    // Quiet: every chain reaches the other origin, and each strategy would say so once.
    bearer: createAuthStrategy({
      source: fakeSource(),
      origins: [web.api],
      policies: [queryParamScope({ param: 'researchstudy', value: '17-001' })],
      logger: false,
    }),
    'api key header': createApiKeyStrategy({
      key: 'fuzz-api-key-1',
      header: 'X-Api-Key',
      origins: [web.api],
      logger: false,
    }),
    'api key query': createApiKeyStrategy({
      key: 'fuzz-api-key-2',
      query: 'api_key',
      origins: [web.api],
      logger: false,
    }),
  });
  const body = (method: string) => (method === 'POST' ? { body: 'x=1' } : {});
  // One agent per undici major for every chain (composed per strategy), closed after.
  const agent6 = new undici6.Agent();
  const agent7 = new undici7.Agent();
  afterAll(() => Promise.all([agent6.close(), agent7.close()]));
  const clients: Record<string, (s: AuthStrategy) => (url: string, method: string) => Promise<unknown>> = {
    fetch: (s) => {
      const api = createAuthFetch(s);
      return (url, method) => api(url, { method, ...(method === 'POST' ? { body: 'x=1' } : {}) });
    },
    'ky 1': (s) => {
      const api = createAuthKy(s, { ky: ky1 as unknown as typeof ky, throwHttpErrors: false, retry: 0 });
      return (url, method) => api(url, { method, ...(method === 'POST' ? { body: 'x=1' } : {}) });
    },
    'ky 2': (s) => {
      const api = createAuthKy(s, { ky, throwHttpErrors: false, retry: 0 });
      return (url, method) => api(url, { method, ...(method === 'POST' ? { body: 'x=1' } : {}) });
    },
    axios: (s) => {
      const api = axios.create({ validateStatus: () => true });
      attachAuth(api, s);
      return (url, method) => api.request({ url, method, ...(method === 'POST' ? { data: 'x=1' } : {}) });
    },
    // The undici interceptor, routed to the first origin only: core follows undici 6's
    // maxRedirections; undici 7's redirect interceptor and the global fetch follow above it.
    'undici 6 request + undici interceptor': (s) => {
      const dispatcher = agent6.compose(authrail({ [web.api]: s }) as never);
      return async (url, method) => {
        const res = await undici6.request(url, {
          dispatcher,
          method: method as 'GET',
          maxRedirections: 10,
          ...body(method),
        });
        return res.body.text();
      };
    },
    'undici 7 request + undici interceptor': (s) => {
      const redirect = undici7.interceptors.redirect({ maxRedirections: 10 });
      const dispatcher = agent7.compose(authrail({ [web.api]: s }), redirect);
      return async (url, method) => {
        const res = await undici7.request(url, { dispatcher, method: method as 'GET', ...body(method) });
        return res.body.text();
      };
    },
    'global fetch + undici interceptor': (s) => {
      const dispatcher = agent7.compose(authrail({ [web.api]: s }));
      return async (url, method) => {
        const before = undici7.getGlobalDispatcher();
        undici7.setGlobalDispatcher(dispatcher);
        try {
          return await (await fetch(url, { method, ...body(method) })).text();
        } finally {
          undici7.setGlobalDispatcher(before);
        }
      };
    },
  };

  test.each(Object.keys(clients))(
    `%s: whatever the chain, no hop to another origin carries a credential (${RUNS.redirectChains} chains × 3 credentials)`,
    async (client) => {
      await fc.assert(
        fc.asyncProperty(chain, fc.constantFrom('GET', 'POST'), async (hops, method) => {
          count('redirectChains')();
          for (const [i, hop] of hops.entries()) {
            const target = hops[i + 1] ? `/hop/${i + 1}` : '/end';
            web.routes.set(
              `/hop/${i}`,
              redirectTo(hop.status, () => `${hop.to === 'api' ? web.api : web.other}${target}`),
            );
          }
          for (const [name, strategy] of Object.entries(strategies())) {
            web.seen.length = 0;
            await clients[client]!(strategy)(`${web.api}/hop/0`, method);
            const elsewhere = web.seen.filter((s) => s.origin === 'other');
            for (const seen of elsewhere) {
              expect({ name, headers: seen.headers.authorization ?? seen.headers['x-api-key'] }).toEqual({
                name,
                headers: undefined,
              });
              expect(seen.query.api_key, name).toBeUndefined();
              expect(seen.query.researchstudy, name).toBeUndefined();
            }
            // And the allowed origin got it on every hop (the check is not just "never send").
            for (const seen of web.seen.filter((s) => s.origin === 'api')) {
              const carried = seen.headers.authorization ?? seen.headers['x-api-key'] ?? seen.query.api_key;
              expect(carried, name).toBeDefined();
            }
          }
          web.routes.clear();
        }),
        { numRuns: RUNS.redirectChains },
      );
    },
  );
});

describe('option objects', () => {
  /** Every option name any factory takes: each factory gets all of them, known to it or not. */
  const OPTION_NAMES = [
    'origins',
    'policies',
    'rejectWhen',
    'logger',
    'on',
    'store',
    'refresh',
    'retry',
    'now',
    'random',
    'fetch',
    'maxResponseBytes',
    'session',
    'scope',
    'resource',
    'audience',
    'parameters',
    'clientAuth',
    'server',
    'discovery',
    'clientId',
    'redirectUri',
    'storageKey',
    'baseUrl',
    'researchStudy',
    'header',
    'query',
    'token',
    'key',
    'source',
    'isOneShot',
    'ky',
    'param',
    'value',
    'required',
    'issuer',
    'environment',
    'tokenPath',
  ];
  test.each(Object.keys(FACTORIES))(
    `%s: any value for any option builds or throws a ConfigError, nothing else (${RUNS.optionValues} values per option)`,
    (name) => {
      const { valid, build } = FACTORIES[name]!;
      for (const key of new Set([...Object.keys(valid()), ...OPTION_NAMES])) {
        fc.assert(
          fc.property(fc.anything({ withNullPrototype: true, withBigInt: true }), (value) => {
            count('options')();
            try {
              build({ ...valid(), [key]: value });
            } catch (error) {
              expect(isConfigError(error), `${key}: ${String(error)}`).toBe(true);
            }
          }),
          { numRuns: RUNS.optionValues },
        );
      }
    },
  );
});

describe('request URLs', () => {
  const allowed = ['https://api.example.org', 'https://[::1]:8443', 'http://127.0.0.1:8080'];
  const host = fc.oneof(
    fc.constantFrom(
      'api.example.org',
      'API.Example.ORG',
      'api.example.org.',
      'xn--pi-7ka.example.org',
      'äpi.example.org',
      'api.example.org.evil.com',
      'evil.com',
      'sub.api.example.org',
      '[::1]',
      '[0:0:0:0:0:0:0:1]',
      '127.0.0.1',
      '127.1',
      '0x7f.0.0.1',
      'localhost',
    ),
    fc.domain(),
  );
  const url = fc
    .record({
      scheme: fc.constantFrom('https', 'http', 'HTTPS', 'wss', 'ftp'),
      userinfo: fc.constantFrom('', 'user@', 'user:pass@', 'api.example.org@'),
      host,
      port: fc.constantFrom('', ':443', ':8443', ':8080', ':80', ':0', ':65535'),
      path: fc.webPath(),
      query: fc.constantFrom('', '?x=1', '?researchstudy=1'),
    })
    .map(
      ({ scheme, userinfo, host: h, port, path, query }) =>
        `${scheme}://${userinfo}${h}${port}${path}${query}`,
    );

  test(`a request carries the credential exactly when its origin is allowed and it has no userinfo, as WHATWG URL reads it (${RUNS.urls} cases)`, async () => {
    const strategy = createApiKeyStrategy({ key: 'url-fuzz-key', origins: allowed, logger: false });
    const sent: AuthRequest[] = [];
    const transport: Transport = (hop) => {
      sent.push(hop);
      return Promise.resolve({
        status: 200,
        headers: new Headers(),
        url: hop.url.href,
        discard: () => undefined,
      } as AuthResponse);
    };
    await fc.assert(
      fc.asyncProperty(url, async (raw) => {
        count('urls')();
        let parsed: URL;
        try {
          parsed = new URL(raw);
        } catch {
          return; // not a URL: no client would send it
        }
        sent.length = 0;
        try {
          await strategy.send({ method: 'GET', url: parsed, headers: new Headers() }, transport);
        } catch (error) {
          expect(isAuthrailError(error), String(error)).toBe(true);
          return;
        }
        const carried = sent[0]?.headers.get('x-api-key') === 'url-fuzz-key';
        // A URL with userinfo never carries one: the client would send its own credentials too.
        const expected = allowed.includes(parsed.origin) && !parsed.username && !parsed.password;
        expect({ raw, carried }).toEqual({ raw, carried: expected });
      }),
      { numRuns: RUNS.urls },
    );
  });
});
