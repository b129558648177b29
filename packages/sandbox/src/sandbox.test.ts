import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function mskToken(extra: Record<string, string> = {}) {
  return fetch(sb.urls.mskApim.tokenEndpoint, {
    method: 'POST',
    body: form({
      grant_type: 'client_credentials',
      scope: 'full',
      client_id: demoClients.mskApim.clientId,
      client_secret: demoClients.mskApim.clientSecret,
      ...extra,
    }),
  });
}

async function oktaToken(
  scope = 'ctrp.accrual',
  auth = basic(demoClients.okta.clientId, demoClients.okta.clientSecret),
) {
  return fetch(sb.urls.okta.tokenEndpoint, {
    method: 'POST',
    headers: { Authorization: auth, Accept: 'application/json' },
    body: form({ grant_type: 'client_credentials', scope }),
  });
}

async function medblocksToken() {
  const res = await fetch(sb.urls.medblocks.tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: basic(demoClients.medblocksBackend.clientId, demoClients.medblocksBackend.clientSecret),
    },
    body: form({ grant_type: 'client_credentials' }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('MSK APIM', () => {
  test('client_secret_post client credentials with scope=full returns consented_on', async () => {
    const res = await mskToken();
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'full',
      consented_on: expect.any(String),
    });
    expect(sb.tokenRequests({ service: 'mskApim' })[0]).toMatchObject({
      clientAuth: 'client_secret_post',
      clientId: 'msk-demo-client',
      grantType: 'client_credentials',
      status: 200,
    });
  });

  test.each([
    [{ client_secret: 'wrong' }, 401, 'invalid_client'],
    [{ scope: 'read' }, 400, 'invalid_scope'],
    [{ grant_type: 'password' }, 400, 'unsupported_grant_type'],
  ])('%j → %i %s', async (extra, status, error) => {
    const res = await mskToken(extra);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error, error_description: expect.any(String) });
  });

  test('Basic client authentication is refused: MSK wants the secret in the form', async () => {
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, {
      method: 'POST',
      headers: { Authorization: basic(demoClients.mskApim.clientId, demoClients.mskApim.clientSecret) },
      body: form({ grant_type: 'client_credentials', scope: 'full' }),
    });
    expect(res.status).toBe(401);
    expect(sb.tokenRequests()[0]?.clientAuth).toBe('client_secret_basic');
  });

  test('Blaze FHIR requires researchstudy, and only granted protocols', async () => {
    const { access_token } = (await (await mskToken()).json()) as { access_token: string };
    const get = (query: string) =>
      fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient${query}`, { headers: bearer(access_token) });
    const ok = await get('?researchstudy=17-001');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/fhir+json');
    expect(((await ok.json()) as { entry: unknown[] }).entry.length).toBeGreaterThan(0);
    const missing = await get('');
    expect(missing.status).toBe(403);
    expect(JSON.stringify(await missing.json())).toContain('researchstudy parameter is required');
    expect((await get('?researchstudy=99-999')).status).toBe(403);
    const single = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient/p1?researchstudy=12-245`, {
      headers: bearer(access_token),
    });
    expect(await single.json()).toMatchObject({ resourceType: 'Patient', id: 'p1' });
    const xml = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`, {
      headers: { ...bearer(access_token), Accept: 'application/xml' },
    });
    expect(xml.status).toBe(406);
    expect(sb.resourceRequests({ route: 'msk-fhir' })).toHaveLength(5);
  });

  test('tokens of another service are refused by Blaze', async () => {
    const token = await medblocksToken();
    const res = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=17-001`, {
      headers: bearer(token),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });
});

describe('Okta', () => {
  test('Basic client credentials (RFC 6749 form-encoded) and client_secret_post both work', async () => {
    const res = await oktaToken();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ token_type: 'Bearer', scope: 'ctrp.accrual', expires_in: 3600 });
    const post = await fetch(sb.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'client_credentials',
        scope: 'ctrp.read',
        client_id: demoClients.okta.clientId,
        client_secret: demoClients.okta.clientSecret,
      }),
    });
    expect(post.status).toBe(200);
    expect(sb.tokenRequests({ service: 'okta' }).map((r) => r.clientAuth)).toEqual([
      'client_secret_basic',
      'client_secret_post',
    ]);
  });

  test('errors in both shapes: OAuth for bad clients and scopes, errorCode for unknown servers', async () => {
    const bad = await oktaToken('ctrp.accrual', basic(demoClients.okta.clientId, 'nope'));
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_client' });
    const scope = await oktaToken('admin');
    expect(scope.status).toBe(400);
    expect(await scope.json()).toMatchObject({ error: 'invalid_scope' });
    const unknown = await fetch(`${sb.url}/oauth2/aus-unknown/v1/token`, {
      method: 'POST',
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      errorCode: 'E0000007',
      errorSummary: expect.stringContaining('aus-unknown'),
      errorLink: 'E0000007',
      errorId: expect.stringMatching(/^oae/),
      errorCauses: [],
    });
  });

  test('metadata is served for discovery', async () => {
    const meta = (await (
      await fetch(`${sb.urls.okta.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ issuer: sb.urls.okta.issuer, token_endpoint: sb.urls.okta.tokenEndpoint });
  });
});

describe('CTRP accrual', () => {
  const accrual = () => `${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123`;
  const xml =
    '<?xml version="1.0"?><accrual><studySubject><id>1</id></studySubject><studySubject><id>2</id></studySubject></accrual>';

  test('PUT with an XML body under an Okta token with ctrp.accrual', async () => {
    const { access_token } = (await (await oktaToken()).json()) as { access_token: string };
    const res = await fetch(accrual(), {
      method: 'PUT',
      headers: { ...bearer(access_token), 'Content-Type': 'application/xml' },
      body: xml,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toContain('<subjects>2</subjects>');
    expect((await fetch(accrual(), { headers: bearer(access_token) })).status).toBe(200);
  });

  test('wrong content type, non-XML body, missing scope, no token', async () => {
    const { access_token } = (await (await oktaToken()).json()) as { access_token: string };
    expect(
      (
        await fetch(accrual(), {
          method: 'PUT',
          headers: { ...bearer(access_token), 'Content-Type': 'application/json' },
          body: '{}',
        })
      ).status,
    ).toBe(415);
    expect(
      (
        await fetch(accrual(), {
          method: 'PUT',
          headers: { ...bearer(access_token), 'Content-Type': 'application/xml' },
          body: 'plain',
        })
      ).status,
    ).toBe(400);
    const { access_token: readOnly } = (await (await oktaToken('ctrp.read')).json()) as {
      access_token: string;
    };
    expect(
      (
        await fetch(accrual(), {
          method: 'PUT',
          headers: { ...bearer(readOnly), 'Content-Type': 'application/xml' },
          body: xml,
        })
      ).status,
    ).toBe(403);
    const none = await fetch(accrual(), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/xml' },
      body: xml,
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sandbox"');
  });
});

describe('Medblocks', () => {
  test('client credentials with Basic; token_type is lowercase bearer; FHIR read and create', async () => {
    const res = await fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      headers: {
        Authorization: basic(
          demoClients.medblocksBackend.clientId,
          demoClients.medblocksBackend.clientSecret,
        ),
      },
      body: form({ grant_type: 'client_credentials' }),
    });
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('bearer');
    const patients = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: bearer(body.access_token),
    });
    expect(patients.status).toBe(200);
    expect(patients.headers.get('content-type')).toBe('application/fhir+json');
    const created = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      method: 'POST',
      headers: { ...bearer(body.access_token), 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Test' }] }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      resourceType: 'Patient',
      id: expect.any(String),
      name: [{ family: 'Test' }],
    });
    expect(
      (
        await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
          method: 'POST',
          headers: bearer(body.access_token),
          body: '{}',
        })
      ).status,
    ).toBe(415);
  });

  test('discovery document', async () => {
    const meta = (await (
      await fetch(`${sb.urls.medblocks.baseUrl}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: sb.urls.medblocks.baseUrl,
      authorization_endpoint: sb.urls.medblocks.authorizeEndpoint,
      token_endpoint: sb.urls.medblocks.tokenEndpoint,
      code_challenge_methods_supported: ['S256'],
    });
  });
});

describe('Medblocks authorization code + PKCE', () => {
  const redirectUri = 'http://127.0.0.1:5173/callback';
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
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

  async function signIn(extra: Record<string, string> = {}, decision = 'allow', password = 'demo') {
    const params = authParams(extra);
    const pageRes = await fetch(`${sb.urls.medblocks.authorizeEndpoint}?${params}`, { redirect: 'manual' });
    if (pageRes.status !== 200) return pageRes;
    const html = await pageRes.text();
    expect(html).toContain('name="username"');
    expect(html).toContain('>Sign in</button>');
    params.set('username', 'demo');
    params.set('password', password);
    params.set('decision', decision);
    return fetch(sb.urls.medblocks.authorizeEndpoint, { method: 'POST', body: params, redirect: 'manual' });
  }

  async function exchange(code: string, codeVerifier = verifier) {
    return fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: demoClients.medblocksSpa.clientId,
        code_verifier: codeVerifier,
      }),
    });
  }

  test('sign in → code → token with refresh token; refresh rotates; reuse refused; revoke', async () => {
    const back = await signIn();
    expect(back.status).toBe(302);
    const location = new URL(back.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-1');
    const code = location.searchParams.get('code')!;
    const tokenRes = await exchange(code);
    expect(tokenRes.status).toBe(200);
    const tokens = (await tokenRes.json()) as {
      access_token: string;
      refresh_token: string;
      token_type: string;
    };
    expect(tokens.token_type).toBe('bearer');
    expect(sb.tokenRequests({ service: 'medblocks' }).at(-1)).toMatchObject({
      clientAuth: 'none',
      grantType: 'authorization_code',
    });
    expect((await exchange(code)).status).toBe(400); // codes are single use

    const refresh = (token: string) =>
      fetch(sb.urls.medblocks.tokenEndpoint, {
        method: 'POST',
        body: form({
          grant_type: 'refresh_token',
          refresh_token: token,
          client_id: demoClients.medblocksSpa.clientId,
        }),
      });
    const rotated = (await (await refresh(tokens.refresh_token)).json()) as {
      refresh_token: string;
      access_token: string;
    };
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    const reuse = await refresh(tokens.refresh_token);
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });

    expect(
      (await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(rotated.access_token) }))
        .status,
    ).toBe(200);
    const revoke = await fetch(sb.urls.medblocks.revocationEndpoint, {
      method: 'POST',
      body: form({ token: rotated.access_token, client_id: demoClients.medblocksSpa.clientId }),
    });
    expect(revoke.status).toBe(200);
    expect(
      (await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(rotated.access_token) }))
        .status,
    ).toBe(401);
  });

  test('a wrong verifier, plain PKCE, no PKCE, deny, bad password, unknown client and redirect', async () => {
    const back = await signIn();
    const code = new URL(back.headers.get('location')!).searchParams.get('code')!;
    expect(await (await exchange(code, 'wrong-verifier-wrong-verifier-wrong-verifier')).json()).toMatchObject(
      { error: 'invalid_grant' },
    );

    const plain = await fetch(
      `${sb.urls.medblocks.authorizeEndpoint}?${authParams({ code_challenge_method: 'plain' })}`,
      { redirect: 'manual' },
    );
    expect(new URL(plain.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    const params = authParams();
    params.delete('code_challenge');
    const none = await fetch(`${sb.url}/medblocks/oauth2/authorize?${params}`, { redirect: 'manual' });
    expect(new URL(none.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');

    const denied = await signIn({}, 'deny');
    const deniedAt = new URL(denied.headers.get('location')!);
    expect(deniedAt.searchParams.get('error')).toBe('access_denied');
    expect(deniedAt.searchParams.get('state')).toBe('st-1');

    const wrong = await signIn({}, 'allow', 'nope');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong username or password');

    expect(
      (
        await fetch(`${sb.urls.medblocks.authorizeEndpoint}?${authParams({ client_id: 'nobody' })}`, {
          redirect: 'manual',
        })
      ).status,
    ).toBe(400);
    const evil = await fetch(
      `${sb.urls.medblocks.authorizeEndpoint}?${authParams({ redirect_uri: 'https://evil.example/cb' })}`,
      { redirect: 'manual' },
    );
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
  });

  test('CORS for the SPA: preflight and the origin echoed', async () => {
    const pre = await fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:5173', 'Access-Control-Request-Method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const token = await medblocksToken();
    const res = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: { ...bearer(token), Origin: 'http://localhost:5173' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });
});

describe('echo, redirect and the other origin', () => {
  test('echo answers what it got, byte for byte, only with a valid token', async () => {
    const token = await medblocksToken();
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const res = await fetch(`${sb.urls.echo}/any/path?x=1`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    const echoed = (await res.json()) as {
      method: string;
      path: string;
      query: Record<string, string>;
      bodyBase64: string;
    };
    expect(echoed).toMatchObject({ method: 'PATCH', path: '/echo/any/path', query: { x: '1' } });
    expect(Buffer.from(echoed.bodyBase64, 'base64')).toEqual(Buffer.from(bytes));
    expect((await fetch(sb.urls.echo)).status).toBe(401);
  });

  test('redirects go where they are told; elsewhere is another origin that records', async () => {
    const res = await fetch(
      `${sb.urls.redirect}?to=${encodeURIComponent(`${sb.urls.elsewhere}/landing`)}&status=307`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`${sb.urls.elsewhere}/landing`);
    expect(new URL(sb.urls.elsewhere).origin).not.toBe(new URL(sb.url).origin);
    await fetch(`${sb.urls.elsewhere}/x`, { headers: { 'X-Probe': '1' } });
    expect(sb.requests.filter((r) => r.listener === 'elsewhere').at(-1)).toMatchObject({
      path: '/x',
      headers: { 'x-probe': '1' },
    });
    expect((await fetch(`${sb.urls.redirect}?to=javascript:alert(1)`, { redirect: 'manual' })).status).toBe(
      400,
    );
    expect((await fetch(`${sb.url}/nothing-here`)).status).toBe(404);
  });
});

describe('faults', () => {
  test('status, rate-limit, html, malformed JSON, missing access_token, Okta shape — consumed in order', async () => {
    sb.inject('msk-token', { type: 'status', status: 503 }, { times: 1 });
    sb.inject('msk-token', { type: 'rate-limit', retryAfterSeconds: 7 }, { times: 1 });
    sb.inject('msk-token', { type: 'html' }, { times: 1 });
    sb.inject('msk-token', { type: 'malformed-json' }, { times: 1 });
    sb.inject('msk-token', { type: 'missing-access-token' }, { times: 1 });
    sb.inject(
      'msk-token',
      { type: 'okta-error', status: 401, errorCode: 'E0000011', errorSummary: 'Invalid token provided' },
      { times: 1 },
    );
    const r1 = await mskToken();
    expect(r1.status).toBe(503);
    const r2 = await mskToken();
    expect([r2.status, r2.headers.get('retry-after')]).toEqual([429, '7']);
    const r3 = await mskToken();
    expect([r3.status, r3.headers.get('content-type')]).toEqual([502, 'text/html; charset=utf-8']);
    expect(await r3.text()).toContain('<html>');
    const r4 = await mskToken();
    await expect(r4.json()).rejects.toThrow();
    const r5 = await mskToken();
    expect(await r5.json()).not.toHaveProperty('access_token');
    const r6 = await mskToken();
    expect(await r6.json()).toMatchObject({
      errorCode: 'E0000011',
      errorSummary: 'Invalid token provided',
      errorId: expect.stringMatching(/^oae/),
    });
    expect((await mskToken()).status).toBe(200);
    expect(sb.tokenRequests().map((r) => r.status)).toEqual([503, 429, 502, 200, 200, 401, 200]);
  });

  test('delay then normal handling; unauthorized on a resource route; clearFaults', async () => {
    sb.inject('okta-token', { type: 'delay', ms: 30 }, { times: 1 });
    expect((await oktaToken()).status).toBe(200);
    const token = await medblocksToken();
    sb.inject('medblocks-fhir', { type: 'unauthorized' });
    const res = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    sb.clearFaults();
    expect((await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, { headers: bearer(token) })).status).toBe(
      200,
    );
  });

  test('reset destroys the connection: the client sees a network error', async () => {
    sb.inject('medblocks-token', { type: 'reset' }, { times: 1 });
    await expect(medblocksToken()).rejects.toThrow(TypeError);
    expect(sb.tokenRequests({ service: 'medblocks' })[0]?.status).toBe(0);
  });

  test('hang never answers: a client with a timeout gives up, and close() still returns', async () => {
    const own = await startSandbox();
    own.inject('okta-token', { type: 'hang' });
    const attempt = fetch(own.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({ grant_type: 'client_credentials' }),
      signal: AbortSignal.timeout(100),
    });
    await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
    const hanging = fetch(own.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({ grant_type: 'client_credentials' }),
    }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await own.close();
    expect(await hanging).toBeInstanceOf(TypeError);
    expect(own.tokenRequests()).toHaveLength(2);
  });

  test('inject refuses a non-positive count', () => {
    expect(() => sb.inject('echo', { type: 'reset' }, { times: 0 })).toThrow(/times/);
  });
});

describe('tokens', () => {
  test('forced revocation and counters', async () => {
    await mskToken();
    await mskToken();
    await oktaToken();
    expect(sb.issuedTokens()).toBe(3);
    expect(sb.issuedTokens({ service: 'mskApim' })).toBe(2);
    expect(sb.revokeTokens({ clientId: demoClients.mskApim.clientId })).toBe(2);
    expect(sb.revokeTokens({ clientId: demoClients.mskApim.clientId })).toBe(0);
  });

  test('configured lifetimes, expiry answered with invalid_token "expired"', async () => {
    const short = await startSandbox({ tokenLifetimeSeconds: { medblocks: 1 } });
    try {
      const res = await fetch(short.urls.medblocks.tokenEndpoint, {
        method: 'POST',
        headers: {
          Authorization: basic(
            demoClients.medblocksBackend.clientId,
            demoClients.medblocksBackend.clientSecret,
          ),
        },
        body: form({ grant_type: 'client_credentials' }),
      });
      const body = (await res.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in).toBe(1);
      await new Promise((r) => setTimeout(r, 1_100));
      const late = await fetch(`${short.urls.medblocks.fhirBaseUrl}/Patient`, {
        headers: bearer(body.access_token),
      });
      expect(late.status).toBe(401);
      expect(late.headers.get('www-authenticate')).toContain('expired');
    } finally {
      await short.close();
    }
  });

  test('custom clients and users are added; bad lifetimes refused', async () => {
    const own = await startSandbox({
      clients: [
        { service: 'mskApim', clientId: 'other', clientSecret: 'other-secret', researchStudies: ['20-123'] },
      ],
    });
    try {
      const res = await fetch(own.urls.mskApim.tokenEndpoint, {
        method: 'POST',
        body: form({
          grant_type: 'client_credentials',
          scope: 'full',
          client_id: 'other',
          client_secret: 'other-secret',
        }),
      });
      expect(res.status).toBe(200);
    } finally {
      await own.close();
    }
    await expect(startSandbox({ tokenLifetimeSeconds: 0 })).rejects.toThrow(/tokenLifetimeSeconds/);
  });
});
