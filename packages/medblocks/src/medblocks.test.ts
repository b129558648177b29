import { inspect } from 'node:util';
import { describe, expect, test, vi } from 'vitest';
import {
  AuthorizationResponseError,
  createMemoryTokenStore,
  createToken,
  ErrorCodes,
  isTokenEndpointError,
  type AuthStrategy,
  type ErrorEvent,
} from '@authrail/core';
import { createMemoryStorage } from '@authrail/oauth2';
import { demoClients, startSandbox } from '@authrail/sandbox';
import {
  medblocksAuthorizationCode,
  medblocksClientCredentials,
  type MedblocksAuthorizationCodeOptions,
} from '@authrail/medblocks';
import {
  FAST_RETRY,
  TOKEN_FAULT_CASES,
  expectTokenFault,
  sendThrough,
  signInOnSandbox,
  useSandbox,
} from '@authrail/test-utils';

const sb = useSandbox();

const REDIRECT = 'http://127.0.0.1:5173/callback';

/** Sends through the strategy; returns the response and the headers the sandbox received. */
async function send(
  strategy: AuthStrategy,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const response = await sendThrough(strategy, url, init);
  const received = sb.requests.at(-1)!;
  return { response, received: new Headers(received.headers as Record<string, string>) };
}

describe('medblocksClientCredentials', () => {
  test('Basic auth; lowercase bearer accepted and sent as Bearer; FHIR calls ask for application/fhir+json', async () => {
    const strategy = medblocksClientCredentials({
      baseUrl: sb.urls.medblocks.baseUrl,
      ...demoClients.medblocksBackend,
    });
    const { received, response } = await send(strategy, `${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
    expect(received.get('authorization')).toMatch(/^Bearer /);
    expect(received.get('accept')).toBe('application/fhir+json');
    expect(sb.tokenRequests({ service: 'medblocks' })[0]).toMatchObject({
      clientAuth: 'client_secret_basic',
    });
    const created = await send(strategy, `${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceType: 'Patient' }),
    });
    expect(created.received.get('content-type')).toBe('application/fhir+json');
    expect(created.response.status).toBe(201);
    expect(sb.tokenRequests()).toHaveLength(1);
  });

  test('bad options name the option', () => {
    expect(() =>
      medblocksClientCredentials({ baseUrl: 'ftp://x', clientId: 'a', clientSecret: 'b' }),
    ).toThrow(/^baseUrl:/);
    expect(() =>
      medblocksClientCredentials({ baseUrl: 'https://x.example/?q=1', clientId: 'a', clientSecret: 'b' }),
    ).toThrow(/^baseUrl:/);
  });
});

describe('medblocksAuthorizationCode', () => {
  const options = (
    extra: Partial<MedblocksAuthorizationCodeOptions> = {},
  ): MedblocksAuthorizationCodeOptions => ({
    baseUrl: sb.urls.medblocks.baseUrl,
    clientId: demoClients.medblocksSpa.clientId,
    redirectUri: REDIRECT,
    storage: createMemoryStorage(),
    ...extra,
  });

  test('authorizationUrl → sign in → handleRedirect: PKCE S256 and state, code exchanged, FHIR read', async () => {
    const auth = medblocksAuthorizationCode(options());
    expect(await auth.isSignedIn()).toBe(false);
    const url = await auth.authorizationUrl();
    expect(url.pathname).toBe('/medblocks/oauth2/auth');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('scope')).toContain('offline_access');
    await auth.handleRedirect(await signInOnSandbox(url));
    expect(await auth.isSignedIn()).toBe(true);
    const exchange = sb.tokenRequests({ service: 'medblocks' }).at(-1)!;
    expect(exchange).toMatchObject({ grantType: 'authorization_code', clientAuth: 'none' });
    expect(new URLSearchParams(exchange.body.toString()).get('code_verifier')).toMatch(
      /^[A-Za-z0-9_-]{43,128}$/,
    );
    const { response } = await send(auth, `${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
  });

  test('authorizePath may be /oauth2/authorize', async () => {
    const auth = medblocksAuthorizationCode(options({ authorizePath: '/oauth2/authorize' }));
    const url = await auth.authorizationUrl();
    expect(url.pathname).toBe('/medblocks/oauth2/authorize');
    await auth.handleRedirect(await signInOnSandbox(url));
    expect(await auth.isSignedIn()).toBe(true);
  });

  test('expiry: the refresh token is used, and the rotated one kept', async () => {
    const short = await startSandbox({ tokenLifetimeSeconds: { medblocks: 1 } });
    try {
      const events: string[] = [];
      const auth = medblocksAuthorizationCode(
        options({
          baseUrl: short.urls.medblocks.baseUrl,
          on: { tokenRefreshed: (e) => events.push(`${e.grant}:${e.reason}`) },
        }),
      );
      await auth.handleRedirect(await signInOnSandbox(await auth.authorizationUrl()));
      const first = await auth.tokens.getToken();
      await new Promise((r) => setTimeout(r, 1_050));
      const second = await auth.tokens.getToken();
      await new Promise((r) => setTimeout(r, 1_050));
      const third = await auth.tokens.getToken();
      expect(new Set([first.accessToken, second.accessToken, third.accessToken]).size).toBe(3);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(events).toEqual(['refresh_token:expired', 'refresh_token:expired']);
      const grants = short.tokenRequests({ service: 'medblocks' }).map((r) => [r.grantType, r.status]);
      expect(grants).toEqual([
        ['authorization_code', 200],
        ['refresh_token', 200],
        ['refresh_token', 200],
      ]);
    } finally {
      await short.close();
    }
  });

  test('wrong state, missing state and no pending sign-in are typed errors; nothing is exchanged', async () => {
    const auth = medblocksAuthorizationCode(options());
    const back = new URL(await signInOnSandbox(await auth.authorizationUrl()));
    back.searchParams.set('state', 'forged');
    await expect(auth.handleRedirect(back)).rejects.toMatchObject({
      code: ErrorCodes.AUTHORIZATION_RESPONSE,
      error: 'state_mismatch',
    });
    back.searchParams.delete('state');
    await expect(auth.handleRedirect(back)).rejects.toMatchObject({ error: 'state_mismatch' });
    await auth.logout(); // drops every pending sign-in
    await expect(auth.handleRedirect(back)).rejects.toMatchObject({ error: 'no_pending_authorization' });
    expect(sb.tokenRequests()).toHaveLength(0);
  });

  test('regression (issue 9 #7): a forged callback does not cancel the real sign-in', async () => {
    const auth = medblocksAuthorizationCode(options());
    const real = await signInOnSandbox(await auth.authorizationUrl());
    const forged = new URL(real);
    forged.searchParams.set('state', 'attacker-state');
    forged.searchParams.set('code', 'attacker-code');
    await expect(auth.handleRedirect(forged)).rejects.toMatchObject({ error: 'state_mismatch' });
    await auth.handleRedirect(real);
    expect(await auth.isSignedIn()).toBe(true);
    expect(sb.tokenRequests().map((r) => r.grantType)).toEqual(['authorization_code']);
    // Used up: the same callback again is refused.
    await expect(auth.handleRedirect(real)).rejects.toMatchObject({ error: 'no_pending_authorization' });
  });

  test('regression (issue 9 #7): two tabs signing in at once both complete, in either order', async () => {
    const storage = createMemoryStorage(); // one storage, as two tabs share localStorage
    const tab1 = medblocksAuthorizationCode(options({ storage }));
    const tab2 = medblocksAuthorizationCode(options({ storage }));
    const url1 = await tab1.authorizationUrl();
    const url2 = await tab2.authorizationUrl();
    const back2 = await signInOnSandbox(url2);
    const back1 = await signInOnSandbox(url1);
    await tab2.handleRedirect(back2);
    await tab1.handleRedirect(back1);
    expect([await tab1.isSignedIn(), await tab2.isSignedIn()]).toEqual([true, true]);
    expect(sb.tokenRequests().map((r) => r.status)).toEqual([200, 200]);
  });

  test('a pending sign-in expires after 10 minutes: its callback is refused and it is cleaned up', async () => {
    const storage = createMemoryStorage();
    const auth = medblocksAuthorizationCode(options({ storage }));
    const back = await signInOnSandbox(await auth.authorizationUrl());
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000 + 1);
      await expect(auth.handleRedirect(back)).rejects.toMatchObject({ error: 'no_pending_authorization' });
      await auth.authorizationUrl(); // a new sign-in prunes the expired one
      const state = new URL(back).searchParams.get('state')!;
      const prefix = `authrail:medblocks:pending:${demoClients.medblocksSpa.clientId}`;
      expect(await storage.getItem(`${prefix}:${state}`)).toBeNull();
      expect(JSON.parse((await storage.getItem(prefix))!)).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
    expect(sb.tokenRequests()).toHaveLength(0);
  });

  test('regression (issue 9 #6): users sharing a store are kept apart by session; one signing out leaves the other in', async () => {
    const store = createMemoryTokenStore();
    const alice = medblocksAuthorizationCode(options({ store, session: 'alice-session' }));
    const bob = medblocksAuthorizationCode(options({ store, session: 'bob-session' }));
    await alice.handleRedirect(await signInOnSandbox(await alice.authorizationUrl()));
    await bob.handleRedirect(await signInOnSandbox(await bob.authorizationUrl()));
    const [aliceToken, bobToken] = [await alice.tokens.getToken(), await bob.tokens.getToken()];
    expect(aliceToken.accessToken).not.toBe(bobToken.accessToken);
    await send(alice, `${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect(sb.requests.at(-1)?.headers.authorization).toBe(`Bearer ${aliceToken.accessToken}`);
    await bob.logout();
    expect([await alice.isSignedIn(), await bob.isSignedIn()]).toEqual([true, false]);
    // A store passed without a session would give every user one key: refused.
    expect(() => medblocksAuthorizationCode(options({ store }))).toThrow(/^session: must be given/);
    expect(() => medblocksAuthorizationCode(options({ store, session: '' }))).toThrow(/^session:/);
  });

  test('access_denied from the authorize endpoint is an AuthorizationResponseError', async () => {
    const auth = medblocksAuthorizationCode(options());
    const error = await auth
      .handleRedirect(await signInOnSandbox(await auth.authorizationUrl(), 'deny'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationResponseError);
    expect(error).toMatchObject({ error: 'access_denied', errorDescription: expect.any(String) });
    expect(await auth.isSignedIn()).toBe(false);
  });

  test('before sign-in, a request fails with AUTHRAIL_NOT_AUTHENTICATED and nothing is sent', async () => {
    const auth = medblocksAuthorizationCode(options());
    await expect(send(auth, `${sb.urls.medblocks.fhirBaseUrl}/Patient`)).rejects.toMatchObject({
      code: ErrorCodes.NOT_AUTHENTICATED,
    });
    expect(sb.requests).toHaveLength(0);
  });

  test('logout revokes both tokens and forgets them', async () => {
    const auth = medblocksAuthorizationCode(options());
    await auth.handleRedirect(await signInOnSandbox(await auth.authorizationUrl()));
    const token = await auth.tokens.getToken();
    expect((await auth.logout()).revoked.sort()).toEqual(['access_token', 'refresh_token']);
    expect(await auth.isSignedIn()).toBe(false);
    const revocations = sb.requests
      .filter((r) => r.path === '/medblocks/oauth2/revoke')
      .map((r) => new URLSearchParams(r.body.toString()).get('token_type_hint'));
    expect(revocations.sort()).toEqual(['access_token', 'refresh_token']);
    const stillValid = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: { Authorization: `Bearer ${token.accessToken}` },
    });
    expect(stillValid.status).toBe(401);
  });

  test('logout with a failing revocation endpoint still signs out; the failures are returned and logged', async () => {
    const warnings: string[] = [];
    const failingRevoke: typeof fetch = (input, init) =>
      String(input instanceof Request ? input.url : input).endsWith('/oauth2/revoke')
        ? Promise.resolve(
            new Response('<html>Bad Gateway</html>', {
              status: 502,
              headers: { 'Content-Type': 'text/html' },
            }),
          )
        : fetch(input, init);
    const events: ErrorEvent[] = [];
    const auth = medblocksAuthorizationCode(
      options({
        fetch: failingRevoke,
        logger: { warn: (m: string) => warnings.push(m) },
        on: { error: (e) => events.push(e) },
      }),
    );
    await auth.handleRedirect(await signInOnSandbox(await auth.authorizationUrl()));
    const token = await auth.tokens.getToken();
    const result = await auth.logout();
    expect(result.revoked).toEqual([]);
    expect(result.errors.map((e) => [e.code, (e as { status?: number }).status])).toEqual([
      [ErrorCodes.TOKEN_RESPONSE_INVALID, 502],
      [ErrorCodes.TOKEN_RESPONSE_INVALID, 502],
    ]);
    expect(await auth.isSignedIn()).toBe(false);
    expect(warnings).toHaveLength(2);
    // regression (issue 9 #8): the docs promise the error event; each failure is one.
    expect(events.map((e) => [e.phase, e.error.code])).toEqual([
      ['sign-out', ErrorCodes.TOKEN_RESPONSE_INVALID],
      ['sign-out', ErrorCodes.TOKEN_RESPONSE_INVALID],
    ]);
    expect(events.map((e) => e.error)).toEqual(result.errors);
    const text = [...warnings, ...result.errors.map((e) => inspect(e, { depth: 8, showHidden: true }))].join(
      '\n',
    );
    expect(text).not.toContain(token.accessToken);
    expect(text).not.toContain(token.refreshToken!);
  });

  test('an expired session is neither refreshed by isSignedIn() nor by logout(); a token endpoint that is down does not matter', async () => {
    sb.inject('medblocks-token', { type: 'status', status: 503 });
    const auth = medblocksAuthorizationCode(options());
    await auth.tokens.setToken(
      createToken({ accessToken: 'expired-access', expiresIn: 0, refreshToken: 'some-refresh-token' }),
    );
    expect(await auth.isSignedIn()).toBe(true);
    const result = await auth.logout();
    expect(await auth.isSignedIn()).toBe(false);
    expect(result.revoked.sort()).toEqual(['access_token', 'refresh_token']);
    expect(sb.tokenRequests()).toHaveLength(0);
  });

  test('a 401 from the API is answered with the refresh token: the request goes through, the user stays signed in', async () => {
    const auth = medblocksAuthorizationCode(options());
    await auth.handleRedirect(await signInOnSandbox(await auth.authorizationUrl()));
    sb.inject('medblocks-fhir', { type: 'unauthorized' }, { times: 1 });
    const { response } = await send(auth, `${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
    expect(sb.tokenRequests().map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);
    expect(await auth.isSignedIn()).toBe(true);
  });

  test('a refused refresh token ends the session: AUTHRAIL_NOT_AUTHENTICATED, sign in again', async () => {
    const auth = medblocksAuthorizationCode(options());
    await auth.tokens.setToken(
      createToken({
        accessToken: 'expired-access',
        expiresAt: Date.now() - 1,
        refreshToken: 'unknown-refresh-token',
      }),
    );
    await expect(auth.tokens.getToken()).rejects.toMatchObject({ code: ErrorCodes.NOT_AUTHENTICATED });
    expect(sb.tokenRequests({ service: 'medblocks' }).map((r) => [r.grantType, r.status])).toEqual([
      ['refresh_token', 400],
    ]);
  });

  test('a failed code exchange is a TokenEndpointError and leaves the user signed out', async () => {
    const auth = medblocksAuthorizationCode(options());
    const back = await signInOnSandbox(await auth.authorizationUrl());
    sb.inject('medblocks-token', { type: 'html', status: 503 }, { times: 1 });
    const error = await auth.handleRedirect(back).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 503 });
    expect(await auth.isSignedIn()).toBe(false);
    const code = new URL(back).searchParams.get('code')!;
    expect(inspect(error, { depth: 8, showHidden: true })).not.toContain(code);
  });

  test('login() navigates in a browser and explains itself elsewhere', async () => {
    const auth = medblocksAuthorizationCode(options());
    await expect(auth.login()).rejects.toMatchObject({
      code: ErrorCodes.NOT_AUTHENTICATED,
      message: expect.stringMatching(/^login\(\) navigates a browser/),
    });
    const assigned: string[] = [];
    const globals = globalThis as { location?: unknown };
    globals.location = { assign: (u: string) => assigned.push(u) };
    try {
      await auth.login();
      expect(new URL(assigned[0]!).pathname).toBe('/medblocks/oauth2/auth');
    } finally {
      delete globals.location;
    }
  });

  test('the pending state lives in the given storage (sessionStorage in browsers)', async () => {
    const storage = createMemoryStorage();
    const auth = medblocksAuthorizationCode(options({ storage }));
    const url = await auth.authorizationUrl();
    const state = url.searchParams.get('state')!;
    const prefix = `authrail:medblocks:pending:${demoClients.medblocksSpa.clientId}`;
    const pending = JSON.parse((await storage.getItem(`${prefix}:${state}`))!) as { state: string };
    expect(pending.state).toBe(state);
    expect(JSON.parse((await storage.getItem(prefix))!)).toEqual([{ state, createdAt: expect.any(Number) }]);
  });

  test('bad options name the option', () => {
    expect(() => medblocksAuthorizationCode(options({ redirectUri: 'http://app.example.org/cb' }))).toThrow(
      /^redirectUri:/,
    );
    expect(() => medblocksAuthorizationCode(options({ authorizePath: 'auth' }))).toThrow(/^authorizePath:/);
    expect(() => medblocksAuthorizationCode(options({ storage: {} as never }))).toThrow(/^storage:/);
    expect(() => medblocksAuthorizationCode(options({ redirectUri: `${REDIRECT}#frag` }))).toThrow(
      /^redirectUri: must not have a fragment/,
    );
  });
});

describe('medblocksClientCredentials: every token endpoint fault of the shared table', () => {
  test.each(TOKEN_FAULT_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await expectTokenFault(
      c,
      sb,
      'medblocks-token',
      medblocksClientCredentials({
        baseUrl: sb.urls.medblocks.baseUrl,
        ...demoClients.medblocksBackend,
        retry: FAST_RETRY,
      }).tokens,
    );
  });
});
