// Token exchange (RFC 8693) against oidc-provider with the grant registered: a gateway
// calls a downstream API on behalf of whoever called it, with the caller's token read
// from an AsyncLocalStorage per request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ConfigError,
  ErrorCodes,
  createMemoryTokenStore,
  isNotAuthenticatedError,
  isTokenEndpointError,
  type Token,
  type TokenStore,
} from '@authrail/core';
import { clientSecretBasic, createTokenExchangeStrategy, type TokenExchangeOptions } from '@authrail/oauth2';
import { sendThrough, startOidcProvider, type OidcProviderHandle } from '@authrail/test-utils';

const DOWNSTREAM = 'https://downstream.example/';
const SECRET = 'gateway-secret-for-token-exchange-tests';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

let op: OidcProviderHandle;
let api: Server;
let apiUrl: string;
const caller = new AsyncLocalStorage<{ token: string }>();

/** The claims of a JWT, unverified (the test reads what the server issued). */
const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

beforeAll(async () => {
  op = await startOidcProvider({
    clients: [
      {
        client_id: 'gateway',
        client_secret: SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [TOKEN_EXCHANGE, 'client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    resourceServers: { [DOWNSTREAM]: { scope: 'orders:read orders:write' } },
    tokenExchange: true,
  });
  // The downstream API: answers with the claims of the token it was given.
  api = createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    res.writeHead(token ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(token ? claimsOf(token) : {}));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await op?.close();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
});

function gateway(overrides: Partial<TokenExchangeOptions> = {}) {
  return createTokenExchangeStrategy({
    server: { issuer: op.issuer, discovery: true },
    clientId: 'gateway',
    clientAuth: clientSecretBasic(SECRET),
    subjectToken: () => caller.getStore()?.token,
    audience: DOWNSTREAM,
    scope: 'orders:read',
    origins: [apiUrl],
    retry: { maxAttempts: 1 },
    ...overrides,
  });
}

/** Calls the downstream API as `token`'s subject; resolves with the claims the API saw. */
async function callAs(strategy: ReturnType<typeof gateway>, token: string): Promise<Record<string, unknown>> {
  return caller.run({ token }, async () => (await sendThrough(strategy, `${apiUrl}/orders`)).json());
}

const exchanges = () => op.tokenRequests().filter((r) => r.form.get('grant_type') === TOKEN_EXCHANGE);

describe('createTokenExchangeStrategy', () => {
  test("exchanges the caller's token for one for the downstream audience: sub is the caller, act the gateway", async () => {
    const alice = await op.mintAccessToken('alice', 'gateway');
    const before = exchanges().length;
    const claims = await callAs(gateway(), alice);
    expect(claims).toMatchObject({
      sub: 'alice',
      act: { sub: 'gateway' },
      aud: DOWNSTREAM,
      client_id: 'gateway',
      scope: 'orders:read',
    });
    const sent = exchanges().slice(before);
    expect(sent).toHaveLength(1);
    expect(Object.fromEntries(sent[0]!.form)).toEqual({
      grant_type: TOKEN_EXCHANGE,
      subject_token: alice,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: DOWNSTREAM,
      scope: 'orders:read',
    });
    expect(sent[0]!.headers.authorization).toMatch(/^Basic /);
  });

  test('caches per subject: two subjects get their own tokens, each exchanged once', async () => {
    const strategy = gateway();
    const [alice, bob] = await Promise.all([
      op.mintAccessToken('alice', 'gateway'),
      op.mintAccessToken('bob', 'gateway'),
    ]);
    const before = exchanges().length;
    const seen = await Promise.all(
      [alice, bob, alice, bob, alice, bob].map(async (token) => (await callAs(strategy, token)).sub),
    );
    expect(seen).toEqual(['alice', 'bob', 'alice', 'bob', 'alice', 'bob']);
    expect(await callAs(strategy, alice)).toMatchObject({ sub: 'alice' });
    expect(await callAs(strategy, bob)).toMatchObject({ sub: 'bob' });
    // Concurrent requests of one subject share one exchange (core's single flight, per subject).
    expect(exchanges().length - before).toBe(2);
  });

  test('a shared store never serves one subject the token of another, and keys hold no subject token', async () => {
    const shared = createMemoryTokenStore();
    const keys = new Set<string>();
    const stored: [string, Token][] = [];
    const store: TokenStore = {
      get: (key) => (keys.add(key), shared.get(key)),
      set: (key, token) => (keys.add(key), stored.push([key, token]), shared.set(key, token)),
      delete: (key, token) => shared.delete(key, token),
    };
    // Two gateways (two processes of a fleet) on one store.
    const [one, two] = [gateway({ store }), gateway({ store })];
    const alice = await op.mintAccessToken('alice', 'gateway');
    const bob = await op.mintAccessToken('bob', 'gateway');
    expect(await callAs(one, alice)).toMatchObject({ sub: 'alice' });
    const before = exchanges().length;
    // The second process finds alice's token in the store and does not exchange again…
    expect(await callAs(two, alice)).toMatchObject({ sub: 'alice' });
    expect(exchanges().length).toBe(before);
    // …and bob, on either process, gets his own.
    expect(await callAs(two, bob)).toMatchObject({ sub: 'bob' });
    expect(await callAs(one, bob)).toMatchObject({ sub: 'bob' });
    expect(exchanges().length).toBe(before + 1);
    expect(new Set(stored.map(([key]) => key)).size).toBe(2);
    for (const key of keys) {
      expect(key).toMatch(/^authrail:v1:[0-9a-f]{64}$/);
      expect(key).not.toContain(alice);
      expect(key).not.toContain(bob);
    }
  });

  test('a refused subject token is a NotAuthenticatedError, the server error its cause, the token nowhere', async () => {
    const events: unknown[] = [];
    const logs: unknown[] = [];
    const log = (...args: unknown[]) => logs.push(args);
    // A server that echoes the subject token in its error: it must reach no error, event or log.
    const echoing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.ok) return response;
      const sent = new URLSearchParams(String(init?.body)).get('subject_token');
      return Response.json({ error: 'invalid_grant', error_description: `unknown ${sent}` }, { status: 400 });
    };
    const strategy = gateway({
      fetch: echoing,
      on: { error: (e) => events.push(e), tokenFetched: (e) => events.push(e) },
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const forged = 'forged-subject-token-0123456789abcdef';
    const error = await callAs(strategy, forged).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNotAuthenticatedError(error)).toBe(true);
    const cause = (error as Error).cause;
    expect(isTokenEndpointError(cause) && cause.error).toBe('invalid_grant');
    expect(isTokenEndpointError(cause) && cause.status).toBe(400);
    expect(isTokenEndpointError(cause) && cause.errorDescription).toMatch(/^unknown /);
    for (const text of [
      String(error),
      (error as Error).stack,
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(error),
      inspect(events, { depth: 10, showHidden: true }),
      inspect(logs, { depth: 10 }),
    ])
      expect(text).not.toContain(forged);
    expect(events.length).toBeGreaterThan(0);
  });

  test('no subject in the context, or a JWT subject past its exp: NotAuthenticatedError, nothing sent', async () => {
    const strategy = gateway();
    const before = op.tokenRequests().length;
    const none = await sendThrough(strategy, `${apiUrl}/orders`).catch((e: unknown) => e);
    expect(isNotAuthenticatedError(none)).toBe(true);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const expired = `${b64({ alg: 'ES256' })}.${b64({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 5 })}.c2ln`;
    const late = await callAs(strategy, expired).catch((e: unknown) => e);
    expect(isNotAuthenticatedError(late)).toBe(true);
    expect((late as Error).message).toMatch(/expired at/);
    expect(inspect(late, { showHidden: true, depth: 10 })).not.toContain(expired);
    expect(op.tokenRequests().length).toBe(before);
  });

  test('an actor token is sent with its type, and the issued token names the actor in act', async () => {
    const actor = await op.mintAccessToken('svc-reporting', 'gateway');
    const alice = await op.mintAccessToken('alice', 'gateway');
    const before = exchanges().length;
    const claims = await callAs(gateway({ actorToken: () => actor }), alice);
    expect(claims).toMatchObject({ sub: 'alice', act: { sub: 'svc-reporting' } });
    const form = exchanges()[before]!.form;
    expect(form.get('actor_token')).toBe(actor);
    expect(form.get('actor_token_type')).toBe('urn:ietf:params:oauth:token-type:access_token');
  });

  test('requestedTokenType: an answer of token_type N_A (not an access token) is sent as a bearer token', async () => {
    const alice = await op.mintAccessToken('alice', 'gateway');
    const before = exchanges().length;
    const claims = await callAs(
      gateway({ requestedTokenType: 'urn:ietf:params:oauth:token-type:jwt' }),
      alice,
    );
    expect(claims).toMatchObject({ sub: 'alice', aud: DOWNSTREAM });
    expect(exchanges()[before]!.form.get('requested_token_type')).toBe(
      'urn:ietf:params:oauth:token-type:jwt',
    );
  });

  test('keeps at most maxSubjects managers: the least recently used subject is exchanged again', async () => {
    const strategy = gateway({ maxSubjects: 2 });
    const [a, b, c] = await Promise.all(['amy', 'ben', 'cy'].map((s) => op.mintAccessToken(s, 'gateway')));
    const count = async (token: string) => {
      const before = exchanges().length;
      await callAs(strategy, token!);
      return exchanges().length - before;
    };
    expect(await count(a!)).toBe(1);
    expect(await count(b!)).toBe(1);
    expect(await count(a!)).toBe(0); // a is now the most recently used
    expect(await count(c!)).toBe(1); // evicts b
    expect(await count(a!)).toBe(0);
    expect(await count(b!)).toBe(1);
  });

  test('options are checked at construction, naming the option', () => {
    const cases: [Partial<TokenExchangeOptions> & Record<string, unknown>, string][] = [
      [{ subjectTokn: () => 'x' }, 'subjectTokn'],
      [{ subjectToken: 'static' as never }, 'subjectToken'],
      [{ maxSubjects: 0 }, 'maxSubjects'],
      [{ subjectTokenType: 'access_token' }, 'subjectTokenType'],
      [{ actorTokenType: 'urn:ietf:params:oauth:token-type:jwt' }, 'actorTokenType'],
      [{ audience: [''] }, 'audience'],
      [{ resource: 'not a uri' }, 'resource'],
      [{ refresh: { skewMs: -1 } }, 'refresh.skewMs'],
      [{ origins: undefined as never }, 'origins'],
    ];
    for (const [overrides, option] of cases) {
      const error = (() => {
        try {
          gateway(overrides);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, option).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option, option).toBe(option);
      expect((error as ConfigError).code).toBe(ErrorCodes.CONFIG);
    }
  });
});
