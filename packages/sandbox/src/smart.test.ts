// The sandbox's SMART server, driven by hand-made assertions: it must refuse exactly what
// SMART Backend Services say a server refuses, or tests against it prove nothing.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox();
});
afterEach(() => sb.reset());
afterAll(() => sb.close());
const demo = demoClients.smartBackend;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const b64 = (value: string | ArrayBuffer) => Buffer.from(value as ArrayBuffer).toString('base64url');
let demoKey: Promise<CryptoKey> | undefined;
const key = () =>
  (demoKey ??= crypto.subtle.importKey(
    'jwk',
    { ...demo.privateJwk },
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  ));

/** A signed assertion of the demo client; `header` and `claims` override the good ones. */
async function assertion(
  header: Record<string, unknown> = {},
  claims: Record<string, unknown> = {},
  signWith?: CryptoKey,
) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64(JSON.stringify({ alg: 'ES384', kid: demo.kid, typ: 'JWT', ...header }))}.${b64(
    JSON.stringify({
      iss: demo.clientId,
      sub: demo.clientId,
      aud: sb.urls.smart.tokenEndpoint,
      exp: now + 60,
      jti: crypto.randomUUID(),
      ...claims,
    }),
  )}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-384' },
    signWith ?? (await key()),
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(signature)}`;
}

async function tokenRequest(clientAssertion: string, fields: Record<string, string> = {}) {
  const response = await fetch(sb.urls.smart.tokenEndpoint, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: JWT_BEARER,
      client_assertion: clientAssertion,
      ...fields,
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function accessToken(scope = 'system/*.rs'): Promise<string> {
  const { status, body } = await tokenRequest(await assertion(), { scope });
  expect(status).toBe(200);
  return body.access_token as string;
}

describe('SMART configuration', () => {
  test('says where the token endpoint is, private_key_jwt with RS384 and ES384', async () => {
    const response = await fetch(sb.urls.smart.configurationUrl);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      token_endpoint: sb.urls.smart.tokenEndpoint,
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'none'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      capabilities: expect.arrayContaining([
        'client-confidential-asymmetric',
        'client-confidential-symmetric',
        'client-public',
      ]) as unknown,
    });
  });
});

describe('SMART token endpoint', () => {
  test('a good assertion gets a Bearer token with the scope asked for, 300 s by default', async () => {
    const { status, body } = await tokenRequest(await assertion());
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs', expires_in: 300 });
    expect(sb.tokenRequests({ service: 'smart' })[0]).toMatchObject({
      clientAuth: 'private_key_jwt',
      clientId: demo.clientId,
    });
  });

  test('the same assertion twice: the second is refused (jti replay)', async () => {
    const once = await assertion();
    expect((await tokenRequest(once)).status).toBe(200);
    expect(await tokenRequest(once)).toEqual({
      status: 401,
      body: {
        error: 'invalid_client',
        error_description: 'The client assertion was already used (jti replay)',
      },
    });
  });

  const now = () => Math.floor(Date.now() / 1000);
  test.each([
    ['aud is the issuer, not the token URL', {}, () => ({ aud: `${sb.url}/smart/auth` }), 'aud must be'],
    ['exp more than 5 minutes ahead', {}, () => ({ exp: now() + 400 }), 'more than 5 minutes'],
    ['exp passed', {}, () => ({ exp: now() - 60 }), 'expired'],
    ['no exp', {}, () => ({ exp: undefined }), 'no exp'],
    ['no jti', {}, () => ({ jti: undefined }), 'no jti'],
    ['sub is not the client', {}, () => ({ sub: 'someone-else' }), 'iss and sub'],
    ['an unknown kid', { kid: 'other' }, () => ({}), 'No registered key has kid other'],
    ['no kid', { kid: undefined }, () => ({}), 'no kid'],
    ['alg ES256', { alg: 'ES256' }, () => ({}), 'RS384 or ES384'],
    ['alg RS384 with an EC key', { alg: 'RS384' }, () => ({}), 'not an RS384 key'],
    ['an unknown client', {}, () => ({ iss: 'nobody', sub: 'nobody' }), 'Unknown client nobody'],
  ])('refused, invalid_client: %s', async (_name, header, claims, description) => {
    const { status, body } = await tokenRequest(await assertion(header, claims()));
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toContain(description);
  });

  test('refused, invalid_client: a signature by another key with the registered kid', async () => {
    const other = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, [
      'sign',
    ])) as CryptoKeyPair;
    const { status, body } = await tokenRequest(await assertion({}, {}, other.privateKey));
    expect(status).toBe(401);
    expect(body.error_description).toBe('The client assertion signature does not verify');
  });

  test('refused: no assertion (a client secret instead), a grant the server has not, a code never issued', async () => {
    const secret = await fetch(sb.urls.smart.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: demo.clientId,
        client_secret: 'x',
      }),
    });
    expect(secret.status).toBe(401);
    const grant = await tokenRequest(await assertion(), { grant_type: 'password' });
    expect(grant).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    const code = await tokenRequest(await assertion(), { grant_type: 'authorization_code', code: 'never' });
    expect(code).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test.each([
    ['no scope', '', 'scope is required'],
    ['a user scope', 'user/Patient.rs', 'Not granted to this client: user/Patient.rs'],
    ['more than granted (write)', 'system/Patient.cruds', 'Not granted to this client: system/Patient.cruds'],
  ])('invalid_scope: %s', async (_name, scope, description) => {
    const { status, body } = await tokenRequest(await assertion(), { scope });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: 'invalid_scope',
      error_description: expect.stringContaining(description) as unknown,
    });
  });
});

describe('SMART FHIR API and bulk export', () => {
  test('reads need a scope that covers the type: 403 insufficient_scope with the scope otherwise', async () => {
    const token = await accessToken('system/Patient.rs');
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(`${sb.urls.smart.fhirBaseUrl}/Patient`, { headers })).status).toBe(200);
    const denied = await fetch(`${sb.urls.smart.fhirBaseUrl}/Observation`, { headers });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('scope="system/Observation.rs"');
    expect((await fetch(`${sb.urls.smart.fhirBaseUrl}/Patient`)).status).toBe(401);
  });

  test('$export: kick-off 202 with Content-Location, a 202 poll with Retry-After, the manifest, ndjson files', async () => {
    const headers = { authorization: `Bearer ${await accessToken()}`, accept: 'application/fhir+json' };
    const refused = await fetch(`${sb.urls.smart.fhirBaseUrl}/$export`, { headers });
    expect(refused.status).toBe(400); // no Prefer: respond-async
    const kickOff = await fetch(`${sb.urls.smart.fhirBaseUrl}/Patient/$export?_type=Patient,Observation`, {
      headers: { ...headers, prefer: 'respond-async' },
    });
    expect(kickOff.status).toBe(202);
    const status = kickOff.headers.get('content-location')!;
    expect(status).toMatch(new RegExp(`^${sb.urls.smart.fhirBaseUrl}/bulkstatus/`));
    const pending = await fetch(status, { headers });
    expect([pending.status, pending.headers.get('retry-after')]).toEqual([202, '1']);
    const done = await fetch(status, { headers });
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as {
      output: { type: string; url: string }[];
      requiresAccessToken: boolean;
    };
    expect(manifest.requiresAccessToken).toBe(true);
    expect(manifest.output.map((o) => o.type)).toEqual(['Patient', 'Observation']);
    const file = await fetch(manifest.output[1]!.url, { headers });
    expect(file.headers.get('content-type')).toBe('application/fhir+ndjson');
    const lines = (await file.text()).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { resourceType: string }).resourceType)).toEqual(
      Array(lines.length).fill('Observation'),
    );
    expect((await fetch(manifest.output[0]!.url)).status).toBe(401); // files need the token too
    expect((await fetch(status, { method: 'DELETE', headers })).status).toBe(202);
    expect((await fetch(status, { headers })).status).toBe(404);
  });

  test('$export of a type the token cannot read: 403 insufficient_scope', async () => {
    const headers = {
      authorization: `Bearer ${await accessToken('system/Patient.rs')}`,
      prefer: 'respond-async',
    };
    const response = await fetch(`${sb.urls.smart.fhirBaseUrl}/$export?_type=Observation`, { headers });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('insufficient_scope');
  });
});

describe('SMART App Launch', () => {
  const redirectUri = 'http://127.0.0.1:5174/callback';
  const verifier = 'v'.repeat(43);
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  /** Signs in on the sandbox's page (the form as a browser posts it) and returns the code. */
  async function codeFor(clientId: string, params: Record<string, string>): Promise<string> {
    const back = await fetch(sb.urls.smart.authorizeEndpoint, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state: 's',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        aud: sb.urls.smart.fhirBaseUrl,
        ...params,
        username: demoClients.user.username,
        password: demoClients.user.password,
        decision: 'allow',
      }),
    });
    expect(back.status).toBe(302);
    const code = new URL(back.headers.get('location')!).searchParams.get('code');
    expect(code).toBeTruthy();
    return code!;
  }

  async function token(fields: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await fetch(sb.urls.smart.tokenEndpoint, {
      method: 'POST',
      headers,
      body: new URLSearchParams(fields),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const exchange = (code: string, clientId: string) => ({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: clientId,
  });
  const read = (accessToken: string, path: string) =>
    fetch(`${sb.urls.smart.fhirBaseUrl}${path}`, { headers: { authorization: `Bearer ${accessToken}` } });

  test("a launch's tokens read its patient only; a refresh restates an ID token, not the context", async () => {
    const { launch } = sb.smartLaunch({ patient: 'p7', encounter: 'e-1' });
    const app = demoClients.smartApp.clientId;
    const code = await codeFor(app, { launch, scope: 'launch patient/*.rs openid fhirUser offline_access' });
    const first = await token(exchange(code, app));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ patient: 'p7', encounter: 'e-1', id_token: expect.any(String) });
    expect((await read(first.body.access_token as string, '/Patient/p7')).status).toBe(200);
    const other = await read(first.body.access_token as string, '/Patient/p8');
    expect(other.status).toBe(403);
    expect(JSON.stringify(await other.json())).toContain('launch of Patient/p7');

    const refreshed = await token({
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
      client_id: app,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.id_token).toEqual(expect.any(String));
    expect(refreshed.body).not.toHaveProperty('patient');
    expect(refreshed.body).not.toHaveProperty('encounter');
    // The refreshed token is still the launch's: bound to p7.
    expect((await read(refreshed.body.access_token as string, '/Patient/p7')).status).toBe(200);
    expect((await read(refreshed.body.access_token as string, '/Patient/p8')).status).toBe(403);
  });

  test('a confidential symmetric client redeems its code with HTTP Basic only', async () => {
    const { clientId, clientSecret } = demoClients.smartConfidentialApp;
    const basic = { authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` };
    const scope = { scope: 'launch/patient patient/*.rs' };
    const posted = await token({
      ...exchange(await codeFor(clientId, scope), clientId),
      client_secret: clientSecret,
    });
    expect(posted).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const wrong = await token(exchange(await codeFor(clientId, scope), clientId), {
      authorization: `Basic ${btoa(`${clientId}:nope`)}`,
    });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const good = await token(exchange(await codeFor(clientId, scope), clientId), basic);
    expect(good).toMatchObject({ status: 200, body: { patient: 'p1' } });
    expect(sb.tokenRequests({ service: 'smart' }).at(-1)).toMatchObject({
      clientAuth: 'client_secret_basic',
      status: 200,
    });
  });

  test('a confidential asymmetric client redeems its code with a client assertion only', async () => {
    const { clientId, kid } = demoClients.smartAsymmetricApp;
    const scope = { scope: 'launch/patient patient/*.rs' };
    const bare = await token(exchange(await codeFor(clientId, scope), clientId));
    expect(bare).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const signed = await assertion({ kid }, { iss: clientId, sub: clientId });
    const good = await token({
      ...exchange(await codeFor(clientId, scope), clientId),
      client_assertion_type: JWT_BEARER,
      client_assertion: signed,
    });
    expect(good).toMatchObject({ status: 200, body: { patient: 'p1' } });
    expect(sb.tokenRequests({ service: 'smart' }).at(-1)).toMatchObject({ clientAuth: 'private_key_jwt' });
  });
});
