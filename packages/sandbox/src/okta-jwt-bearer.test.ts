// The Okta server's JWT bearer grant (RFC 7523 §2.1), driven by hand-made assertions: it
// must refuse what a federating server refuses (RFC 7523 §3), or tests of workloads
// against it prove nothing.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { basic, bearer, form, json } from '../test/helpers.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const demo = demoClients.workloadIssuer;
const workload = demoClients.oktaWorkload.clientId;
// A second issuer, registered at start: RS256, as Kubernetes signs, trusted for any subject.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const CI_ISSUER = 'https://ci.sandbox.invalid';
const ciKey: JsonWebKey & { kid: string } = {
  ...rsa.publicKey.export({ format: 'jwk' }),
  kid: 'ci-1',
  alg: 'RS256',
};

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({
    trustedIssuers: [
      {
        issuer: CI_ISSUER,
        jwks: { keys: [ciKey] },
      },
    ],
  });
});
afterEach(() => sb.reset());
afterAll(() => sb.close());

const b64 = (value: string | ArrayBuffer) => Buffer.from(value as ArrayBuffer).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
let demoKey: Promise<CryptoKey> | undefined;
const key = () =>
  (demoKey ??= crypto.subtle.importKey(
    'jwk',
    { ...demo.privateJwk },
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  ));

/** An assertion of the demo issuer (ES256); `header` and `claims` override the good ones. */
async function assertion(
  header: Record<string, unknown> = {},
  claims: Record<string, unknown> = {},
  signWith?: CryptoKey,
): Promise<string> {
  const input = `${b64(JSON.stringify({ alg: 'ES256', kid: demo.kid, typ: 'JWT', ...header }))}.${b64(
    JSON.stringify({
      iss: demo.issuer,
      sub: demo.subject,
      aud: sb.urls.okta.tokenEndpoint,
      iat: now(),
      exp: now() + 600,
      ...claims,
    }),
  )}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    signWith ?? (await key()),
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(signature)}`;
}

async function grant(jwt: string | undefined, fields: Record<string, string> = {}, headers = {}) {
  const response = await fetch(sb.urls.okta.tokenEndpoint, {
    method: 'POST',
    headers,
    body: form({
      grant_type: GRANT,
      client_id: workload,
      scope: 'ctrp.read',
      ...(jwt === undefined ? {} : { assertion: jwt }),
      ...fields,
    }),
  });
  return { status: response.status, body: await json(response) };
}

describe('Okta JWT bearer grant', () => {
  test('a trusted issuer’s assertion: a Bearer token for its subject; the request record shows the grant', async () => {
    const { status, body } = await grant(await assertion());
    expect(status).toBe(200);
    expect(body).toEqual({
      token_type: 'Bearer',
      expires_in: 3600,
      access_token: expect.any(String),
      scope: 'ctrp.read',
    });
    expect(sb.tokenRequests({ service: 'okta' })).toMatchObject([
      { grantType: GRANT, clientAuth: 'none', clientId: workload, subject: demo.subject, status: 200 },
    ]);
    const echo = await fetch(sb.urls.echo, { headers: bearer(body.access_token as string) });
    expect(echo.status).toBe(200);
    expect(sb.resourceRequests({ route: 'echo' })).toMatchObject([
      { clientId: workload, subject: demo.subject },
    ]);
  });

  test('the same assertion again is taken (a projected token is sent until kubelet rotates it)', async () => {
    const jwt = await assertion({}, { jti: 'once' });
    expect((await grant(jwt)).status).toBe(200);
    expect((await grant(jwt)).status).toBe(200);
  });

  test.each([
    ['aud the issuer', () => ({ aud: sb.urls.okta.issuer })],
    [
      'aud a list with the token endpoint',
      () => ({ aud: ['https://other.invalid', sb.urls.okta.tokenEndpoint] }),
    ],
    ['no iat, an nbf passed', () => ({ iat: undefined, nbf: now() - 10 })],
  ])('taken: %s', async (_name, claims) => {
    expect((await grant(await assertion({}, claims()))).status).toBe(200);
  });

  test('an issuer given in trustedIssuers (RS256, any subject)', async () => {
    const { createSign } = await import('node:crypto');
    const input = `${b64(JSON.stringify({ alg: 'RS256', kid: 'ci-1' }))}.${b64(
      JSON.stringify({ iss: CI_ISSUER, sub: 'repo:acme/orders', aud: sb.urls.okta.issuer, exp: now() + 60 }),
    )}`;
    const signature = createSign('sha256').update(input).sign(rsa.privateKey).toString('base64url');
    expect((await grant(`${input}.${signature}`)).status).toBe(200);
    expect(sb.tokenRequests()[0]?.subject).toBe('repo:acme/orders');
  });

  test.each([
    ['expired', {}, () => ({ exp: now() - 60 }), 'The assertion has expired.'],
    ['no exp', {}, () => ({ exp: undefined }), "no 'exp'"],
    ['nbf ahead', {}, () => ({ nbf: now() + 120 }), 'not valid yet (nbf)'],
    ['iat ahead', {}, () => ({ iat: now() + 120 }), 'issued in the future (iat)'],
    ['aud another server', {}, () => ({ aud: 'https://login.example.org' }), "'aud' must be"],
    ['no aud', {}, () => ({ aud: undefined }), "'aud' must be"],
    [
      'a subject the issuer is not trusted for',
      {},
      () => ({ sub: 'system:serviceaccount:x:y' }),
      'not trusted for the subject',
    ],
    ['no sub', {}, () => ({ sub: undefined }), "no 'sub'"],
    [
      'an issuer not trusted',
      {},
      () => ({ iss: 'https://evil.invalid' }),
      'not trusted: https://evil.invalid',
    ],
    ['an unknown kid', { kid: 'other' }, () => ({}), 'No registered key has kid other'],
    ['alg HS256', { alg: 'HS256' }, () => ({}), 'alg must be RS256 or RS384 or ES256 or ES384'],
    ['alg RS256 with an EC key', { alg: 'RS256' }, () => ({}), 'not an RS256 key'],
  ])('refused, 400 invalid_grant: %s', async (_name, header, claims, description) => {
    const { status, body } = await grant(await assertion(header, claims()));
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining(description) });
    expect(sb.tokenRequests()[0]).toMatchObject({ grantType: GRANT, status: 400 });
    expect(sb.tokenRequests()[0]?.subject).toBeUndefined();
  });

  test('refused: a signature by another key under the issuer’s kid; a token that is not a JWT', async () => {
    const other = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ])) as CryptoKeyPair;
    expect(await grant(await assertion({}, {}, other.privateKey))).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'The assertion signature does not verify' },
    });
    expect((await grant('not-a-jwt')).body).toEqual({
      error: 'invalid_grant',
      error_description: "The 'assertion' is not a JWT.",
    });
  });

  test('no assertion: 400 invalid_request', async () => {
    expect(await grant(undefined)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  test('a scope the client may not have: 400 invalid_scope, as for every Okta grant', async () => {
    const { status, body } = await grant(await assertion(), { scope: 'ctrp.accrual' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_scope');
  });

  test('a client with no secret gets nothing but this grant; a confidential client authenticates as well', async () => {
    const cc = await fetch(sb.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({ grant_type: 'client_credentials', client_id: workload, scope: 'ctrp.read' }),
    });
    expect(cc.status).toBe(401);
    expect((await json(cc)).error).toBe('invalid_client');
    const withSecret = await grant(await assertion(), { client_secret: 'guess' });
    expect(withSecret).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const confidential = await grant(
      await assertion(),
      { client_id: '' },
      { Authorization: basic(demoClients.okta.clientId, demoClients.okta.clientSecret) },
    );
    expect(confidential.status).toBe(200);
    const wrongSecret = await grant(
      await assertion(),
      { client_id: '' },
      { Authorization: basic(demoClients.okta.clientId, 'nope') },
    );
    expect(wrongSecret.status).toBe(401);
  });

  test('trustedIssuers is checked at start', async () => {
    await expect(startSandbox({ trustedIssuers: [{ issuer: '', jwks: { keys: [] } }] })).rejects.toThrow(
      'every issuer needs an issuer',
    );
    await expect(
      startSandbox({ trustedIssuers: [{ issuer: 'https://x.invalid' } as never] }),
    ).rejects.toThrow('https://x.invalid needs a jwks with keys');
  });
});
