import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { basic, bearer, form, json, medblocksTokenRequest, pkce, tokenOf } from '../test/helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({
    clients: [{ service: 'medblocks', clientId: 'fixed-spa', redirectUris: ['https://app.example/cb'] }],
    users: [
      { username: 'demo', password: 'demo' },
      { username: 'nurse', password: 's3cret' },
    ],
  });
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

describe('Medblocks client credentials and FHIR', () => {
  test('Basic client credentials: token_type is lowercase "bearer", no refresh token', async () => {
    const res = await medblocksTokenRequest(sb);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: expect.any(String) });
    expect(body).not.toHaveProperty('refresh_token');
    expect(sb.tokenRequests({ service: 'medblocks' })[0]).toMatchObject({
      clientAuth: 'client_secret_basic',
      clientId: 'medblocks-demo-backend',
      grantType: 'client_credentials',
    });
  });

  test('a wrong secret or an unknown client is 401 invalid_client; a public client cannot use client_credentials', async () => {
    const post = (auth: string | undefined, fields: Record<string, string>) =>
      fetch(sb.urls.medblocks.tokenEndpoint, {
        method: 'POST',
        headers: auth ? { Authorization: auth } : {},
        body: form({ grant_type: 'client_credentials', ...fields }),
      });
    const wrong = await post(basic(demoClients.medblocksBackend.clientId, 'nope'), {});
    expect([wrong.status, (await json(wrong)).error]).toEqual([401, 'invalid_client']);
    const unknown = await post(basic('nobody', 'x'), {});
    expect([unknown.status, (await json(unknown)).error]).toEqual([401, 'invalid_client']);
    const spa = await post(undefined, { client_id: demoClients.medblocksSpa.clientId });
    expect([spa.status, (await json(spa)).error]).toEqual([400, 'unauthorized_client']);
    const grant = await post(
      basic(demoClients.medblocksBackend.clientId, demoClients.medblocksBackend.clientSecret),
      {
        grant_type: 'implicit',
      },
    );
    expect((await json(grant)).error).toBe('unsupported_grant_type');
  });

  test('FHIR: GET Patient Bundle and Patient/:id; POST Patient with fhir+json → 201 with an id', async () => {
    const token = await tokenOf.medblocks(sb);
    const list = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(token) });
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toBe('application/fhir+json');
    expect(await json(list)).toMatchObject({
      resourceType: 'Bundle',
      entry: [{ resource: { resourceType: 'Patient' } }, {}, {}, {}],
    });
    const one = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient/p2`, { headers: bearer(token) });
    expect(await json(one)).toMatchObject({ resourceType: 'Patient', id: 'p2' });
    const created = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      method: 'POST',
      headers: { ...bearer(token), 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Test' }] }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/fhir+json');
    expect(await json(created)).toMatchObject({
      resourceType: 'Patient',
      id: expect.any(String),
      name: [{ family: 'Test' }],
    });
    expect(sb.resourceRequests({ route: 'medblocks-fhir' }).map((r) => r.status)).toEqual([200, 200, 201]);
  });

  test('FHIR errors: 415 without fhir+json, 400 for broken JSON, 404 elsewhere, 401 without or with a foreign token', async () => {
    const token = await tokenOf.medblocks(sb);
    const post = (body: string, type?: string) =>
      fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
        method: 'POST',
        headers: { ...bearer(token), ...(type ? { 'Content-Type': type } : {}) },
        body,
      });
    expect((await post('{}')).status).toBe(415);
    const broken = await post('{"resourceType":', 'application/fhir+json');
    expect(broken.status).toBe(400);
    expect(await json(broken)).toMatchObject({ resourceType: 'OperationOutcome' });
    expect(
      (await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Encounter`, { headers: bearer(token) })).status,
    ).toBe(404);
    const none = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const foreign = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: bearer(await tokenOf.mskApim(sb)),
    });
    expect(foreign.status).toBe(401);
    expect(foreign.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test('discovery document at {baseUrl}/.well-known/openid-configuration', async () => {
    const res = await fetch(`${sb.urls.medblocks.baseUrl}/.well-known/openid-configuration`);
    expect(await json(res)).toMatchObject({
      issuer: sb.urls.medblocks.baseUrl,
      authorization_endpoint: sb.urls.medblocks.authorizeEndpoint,
      token_endpoint: sb.urls.medblocks.tokenEndpoint,
      revocation_endpoint: sb.urls.medblocks.revocationEndpoint,
      code_challenge_methods_supported: ['S256'],
    });
    expect(sb.urls.medblocks).toEqual({
      baseUrl: `${sb.url}/medblocks`,
      tokenEndpoint: `${sb.url}/medblocks/oauth2/token`,
      authorizeEndpoint: `${sb.url}/medblocks/oauth2/auth`,
      revocationEndpoint: `${sb.url}/medblocks/oauth2/revoke`,
      fhirBaseUrl: `${sb.url}/medblocks/fhir`,
      deviceAuthorizationEndpoint: `${sb.url}/medblocks/oauth2/device/auth`,
      deviceVerificationUri: `${sb.url}/medblocks/device`,
    });
  });
});

describe('Medblocks authorization code + PKCE', () => {
  const redirectUri = 'http://127.0.0.1:5173/callback';
  const { verifier, challenge } = pkce();
  const authParams = (extra: Record<string, string> = {}) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: demoClients.medblocksSpa.clientId,
      redirect_uri: redirectUri,
      state: 'st-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid offline_access',
      ...extra,
    });

  /** Opens the sign-in page and submits its form as a browser would (hidden fields included). */
  async function signIn(
    options: {
      extra?: Record<string, string>;
      button?: 'allow' | 'deny';
      username?: string;
      password?: string;
      path?: string;
    } = {},
  ): Promise<Response> {
    const pageUrl = `${options.path ?? sb.urls.medblocks.authorizeEndpoint}?${authParams(options.extra)}`;
    const page = await fetch(pageUrl, { redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toMatch(/<form method="post">/);
    expect(html).toMatch(/<input[^>]+name="username"/);
    expect(html).toMatch(/<input[^>]+name="password"[^>]*type="password"/);
    expect(html).toMatch(/<button type="submit"[^>]*>Sign in<\/button>/);
    expect(html).toMatch(/<button type="submit"[^>]*>Deny<\/button>/);
    expect(html).not.toMatch(/<script/);
    const fields = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
      fields.append(
        name!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
        value!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
      );
    }
    fields.set('username', options.username ?? 'demo');
    fields.set('password', options.password ?? 'demo');
    fields.set('decision', options.button ?? 'allow');
    return fetch(pageUrl, { method: 'POST', body: fields, redirect: 'manual' });
  }

  const codeOf = (res: Response) => new URL(res.headers.get('location')!).searchParams.get('code')!;

  const exchange = (code: string, fields: Record<string, string> = {}) =>
    fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: demoClients.medblocksSpa.clientId,
        code_verifier: verifier,
        ...fields,
      }),
    });

  const refresh = (token: string) =>
    fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'refresh_token',
        refresh_token: token,
        client_id: demoClients.medblocksSpa.clientId,
      }),
    });

  test('sign in → 302 with code and state → token (public client, PKCE) with a refresh token', async () => {
    const back = await signIn();
    expect(back.status).toBe(302);
    const location = new URL(back.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-1');
    const res = await exchange(codeOf(back));
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 3600,
      scope: 'openid offline_access',
      refresh_token: expect.any(String),
    });
    expect(sb.tokenRequests({ service: 'medblocks' })).toMatchObject([
      { clientAuth: 'none', clientId: 'medblocks-demo-spa', grantType: 'authorization_code', status: 200 },
    ]);
  });

  test('the page is also served at /oauth2/authorize; other users sign in too', async () => {
    const back = await signIn({
      path: `${sb.urls.medblocks.baseUrl}/oauth2/authorize`,
      username: 'nurse',
      password: 's3cret',
    });
    expect(back.status).toBe(302);
    expect((await exchange(codeOf(back))).status).toBe(200);
  });

  test('codes are single use and bound to client, redirect_uri and challenge', async () => {
    const code = codeOf(await signIn());
    expect((await exchange(code)).status).toBe(200);
    expect(await json(await exchange(code))).toMatchObject({ error: 'invalid_grant' });
    const wrongRedirect = await exchange(codeOf(await signIn()), {
      redirect_uri: 'http://127.0.0.1:5173/other',
    });
    expect([wrongRedirect.status, (await json(wrongRedirect)).error]).toEqual([400, 'invalid_grant']);
    const otherClient = await exchange(codeOf(await signIn()), { client_id: 'fixed-spa' });
    expect([otherClient.status, (await json(otherClient)).error]).toEqual([400, 'invalid_grant']);
    expect(await json(await exchange('made-up-code'))).toMatchObject({ error: 'invalid_grant' });
  });

  test('PKCE at the token endpoint: a wrong verifier is invalid_grant, a missing one invalid_request', async () => {
    const wrong = await exchange(codeOf(await signIn()), { code_verifier: pkce().verifier });
    expect([wrong.status, (await json(wrong)).error]).toEqual([400, 'invalid_grant']);
    const body = form({
      grant_type: 'authorization_code',
      code: codeOf(await signIn()),
      redirect_uri: redirectUri,
      client_id: demoClients.medblocksSpa.clientId,
    });
    const missing = await fetch(sb.urls.medblocks.tokenEndpoint, { method: 'POST', body });
    expect([missing.status, (await json(missing)).error]).toEqual([400, 'invalid_request']);
  });

  test('PKCE at the authorize endpoint: plain or missing → redirect with invalid_request and state', async () => {
    const noChallenge = authParams();
    noChallenge.delete('code_challenge');
    const noMethod = authParams();
    noMethod.delete('code_challenge_method');
    for (const params of [authParams({ code_challenge_method: 'plain' }), noChallenge, noMethod]) {
      const res = await fetch(`${sb.urls.medblocks.authorizeEndpoint}?${params}`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const at = new URL(res.headers.get('location')!);
      expect(at.origin + at.pathname).toBe(redirectUri);
      expect(at.searchParams.get('error')).toBe('invalid_request');
      expect(at.searchParams.get('error_description')).toMatch(/S256/);
      expect(at.searchParams.get('state')).toBe('st-1');
    }
    const type = await fetch(
      `${sb.urls.medblocks.authorizeEndpoint}?${authParams({ response_type: 'token' })}`,
      {
        redirect: 'manual',
      },
    );
    expect(new URL(type.headers.get('location')!).searchParams.get('error')).toBe(
      'unsupported_response_type',
    );
  });

  test('Deny → access_denied with state; a wrong password → the form again, 401, with an error', async () => {
    const denied = await signIn({ button: 'deny' });
    const at = new URL(denied.headers.get('location')!);
    expect([denied.status, at.searchParams.get('error'), at.searchParams.get('state')]).toEqual([
      302,
      'access_denied',
      'st-1',
    ]);
    expect(at.searchParams.has('code')).toBe(false);
    const wrong = await signIn({ password: 'nope' });
    expect(wrong.status).toBe(401);
    const html = await wrong.text();
    expect(html).toContain('Wrong username or password');
    expect(html).toMatch(/name="password"/);
    expect(html).toContain(`value="${challenge}"`);
  });

  test('an unknown client or unregistered redirect_uri: 400 HTML page, never a redirect', async () => {
    const cases: Record<string, string>[] = [
      { client_id: 'nobody' },
      { redirect_uri: 'https://evil.example/cb' },
      { redirect_uri: 'http://localhost.evil.example/cb' },
      { redirect_uri: 'http://127.0.0.1@evil.example/cb' },
      { redirect_uri: 'not a url' },
      { client_id: 'fixed-spa', redirect_uri: 'http://127.0.0.1:5173/callback' },
    ];
    for (const extra of cases) {
      const res = await fetch(`${sb.urls.medblocks.authorizeEndpoint}?${authParams(extra)}`, {
        redirect: 'manual',
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    }
  });

  test('default redirect URIs: any loopback http URI, keeping its own query; registered ones match exactly', async () => {
    const res = await signIn({ extra: { redirect_uri: 'http://localhost:8080/cb?tab=2' } });
    const at = new URL(res.headers.get('location')!);
    expect([at.host, at.searchParams.get('tab'), at.searchParams.has('code')]).toEqual([
      'localhost:8080',
      '2',
      true,
    ]);
    const fixed = await signIn({ extra: { client_id: 'fixed-spa', redirect_uri: 'https://app.example/cb' } });
    expect(fixed.headers.get('location')).toMatch(/^https:\/\/app\.example\/cb\?code=/);
  });

  test('refresh rotates the refresh token; the old one is refused (invalid_grant)', async () => {
    const first = await json(await exchange(codeOf(await signIn())));
    const rotated = await refresh(first.refresh_token as string);
    expect(rotated.status).toBe(200);
    const second = await json(rotated);
    expect(second).toMatchObject({ token_type: 'bearer', refresh_token: expect.any(String) });
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const reuse = await refresh(first.refresh_token as string);
    expect([reuse.status, (await json(reuse)).error]).toEqual([400, 'invalid_grant']);
    expect((await refresh(second.refresh_token as string)).status).toBe(200);
    expect(sb.tokenRequests({ service: 'medblocks' }).map((r) => r.grantType)).toEqual([
      'authorization_code',
      'refresh_token',
      'refresh_token',
      'refresh_token',
    ]);
  });

  test('revocation (RFC 7009): access and refresh tokens; 200 even for unknown tokens', async () => {
    const tokens = await json(await exchange(codeOf(await signIn())));
    const fhir = () =>
      fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(tokens.access_token as string) });
    expect((await fhir()).status).toBe(200);
    const revoke = (token: string) =>
      fetch(sb.urls.medblocks.revocationEndpoint, {
        method: 'POST',
        body: form({ token, client_id: demoClients.medblocksSpa.clientId }),
      });
    expect((await revoke(tokens.access_token as string)).status).toBe(200);
    const after = await fhir();
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect((await revoke(tokens.refresh_token as string)).status).toBe(200);
    expect(await json(await refresh(tokens.refresh_token as string))).toMatchObject({
      error: 'invalid_grant',
    });
    expect((await revoke('never-issued')).status).toBe(200);
    expect((await fetch(sb.urls.medblocks.revocationEndpoint)).status).toBe(405);
  });
});

describe('CORS for browser apps on another origin', () => {
  const origin = 'http://127.0.0.1:5173';

  test.each(['tokenEndpoint', 'revocationEndpoint', 'fhirBaseUrl'] as const)(
    'preflight on %s',
    async (which) => {
      const res = await fetch(sb.urls.medblocks[which], {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type, accept');
      expect(res.headers.get('access-control-allow-methods')).toMatch(/GET, POST, PUT, DELETE/);
      expect(sb.tokenRequests()).toHaveLength(0);
    },
  );

  test('the Origin is echoed on answers, errors too, with WWW-Authenticate readable', async () => {
    const token = await fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      headers: {
        Origin: origin,
        Authorization: basic(
          demoClients.medblocksBackend.clientId,
          demoClients.medblocksBackend.clientSecret,
        ),
      },
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(token.headers.get('access-control-allow-origin')).toBe(origin);
    const denied = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: { Origin: 'http://localhost:3000' },
    });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(denied.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  });
});
