import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { basic, form } from '../test/helpers.js';
import { CLIENT_SAN, createPki, httpsCall, type Pem } from '../test/tls.js';

const pki = createPki();
afterAll(() => pki.remove());

const MTLS_CLIENT = 'ctrp-mtls-client';
const SUMMARY = '/ctrp/accrual-services/trials/nci/NCI-2024-00001/sites/po/1234';

describe('TLS mode without a client CA', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ tls: { key: pki.server.key, cert: pki.server.cert } });
  });
  afterAll(() => sb.close());

  test('serves https on both listeners; a token and an API call work as over http', async () => {
    expect(sb.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sb.urls.elsewhere).toMatch(/^https:\/\//);
    const token = await httpsCall(sb.urls.okta.tokenEndpoint, {
      ca: pki.ca.cert,
      method: 'POST',
      headers: {
        Authorization: basic(demoClients.okta.clientId, demoClients.okta.clientSecret),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: form({ grant_type: 'client_credentials', scope: 'ctrp.read' }).toString(),
    });
    expect(token.status).toBe(200);
    const { access_token } = JSON.parse(token.body) as { access_token: string };
    const api = await httpsCall(`${sb.url}${SUMMARY}`, {
      ca: pki.ca.cert,
      headers: { Authorization: `Bearer ${access_token}` },
    });
    expect(api.status).toBe(200);
    const other = await httpsCall(sb.urls.elsewhere, { ca: pki.ca.cert });
    expect(other.status).toBe(200);
  });

  test('DPoP proofs name the https URL: one signed for http:// is refused', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
    ])) as CryptoKeyPair;
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const b64 = (value: string | ArrayBuffer) => Buffer.from(value as ArrayBuffer).toString('base64url');
    const proof = async (htu: string) => {
      const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }));
      const claims = { jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), htm: 'POST', htu };
      const input = `${header}.${b64(JSON.stringify(claims))}`;
      const signature = await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        pair.privateKey,
        new TextEncoder().encode(input),
      );
      return `${input}.${b64(signature)}`;
    };
    const withProof = async (htu: string) =>
      httpsCall(sb.urls.okta.tokenEndpoint, {
        ca: pki.ca.cert,
        method: 'POST',
        headers: {
          Authorization: basic(demoClients.okta.clientId, demoClients.okta.clientSecret),
          'Content-Type': 'application/x-www-form-urlencoded',
          DPoP: await proof(htu),
        },
        body: form({ grant_type: 'client_credentials', scope: 'ctrp.read' }).toString(),
      });
    const good = await withProof(sb.urls.okta.tokenEndpoint);
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toMatchObject({ token_type: 'DPoP' });
    const plain = await withProof(sb.urls.okta.tokenEndpoint.replace('https:', 'http:'));
    expect(plain.status).toBe(400);
    expect(JSON.parse(plain.body)).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  test('no mTLS without a CA: the metadata offers no tls_client_auth', async () => {
    const metadata = await httpsCall(`${sb.urls.okta.issuer}/.well-known/openid-configuration`, {
      ca: pki.ca.cert,
    });
    const body = JSON.parse(metadata.body) as Record<string, unknown>;
    expect(body.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    expect(body).not.toHaveProperty('tls_client_certificate_bound_access_tokens');
  });
});

describe('plain http stays the default', () => {
  test('no tls option: http, and fetch gets a token as before', async () => {
    const sb = await startSandbox();
    try {
      expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(sb.urls.elsewhere).toMatch(/^http:\/\//);
      const res = await fetch(sb.urls.okta.tokenEndpoint, {
        method: 'POST',
        headers: { Authorization: basic(demoClients.okta.clientId, demoClients.okta.clientSecret) },
        body: form({ grant_type: 'client_credentials', scope: 'ctrp.read' }),
      });
      expect(res.status).toBe(200);
      expect(sb.tokenRequests()[0]).not.toHaveProperty('clientCertificate');
    } finally {
      await sb.close();
    }
  });

  test('a tls option of the wrong shape is refused, naming the field', async () => {
    await expect(startSandbox({ tls: { key: pki.server.key } as never })).rejects.toThrow(/^tls\.cert: /);
    await expect(
      startSandbox({ tls: { key: pki.server.key, cert: pki.server.cert, ca: 7 } as never }),
    ).rejects.toThrow(/^tls\.ca: /);
    await expect(
      startSandbox({ tls: { key: pki.server.key, cert: pki.server.cert, pfx: 'x' } as never }),
    ).rejects.toThrow('tls.pfx: unknown option');
  });
});

describe('mutual TLS: Okta tls_client_auth and certificate-bound tokens', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({
      tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert },
      clients: [
        { service: 'okta', clientId: MTLS_CLIENT, tlsClientAuthSanDns: CLIENT_SAN, scopes: ['ctrp.read'] },
      ],
    });
  });
  afterAll(() => sb.close());
  afterEach(() => sb.reset());

  const tokenCall = (client: Pem | undefined, extra: Record<string, string> = {}) =>
    httpsCall(sb.urls.okta.tokenEndpoint, {
      ca: pki.ca.cert,
      ...(client ? { client } : {}),
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'client_credentials',
        scope: 'ctrp.read',
        client_id: MTLS_CLIENT,
        ...extra,
      }).toString(),
    });
  const apiCall = (token: string, client: Pem | undefined) =>
    httpsCall(`${sb.url}${SUMMARY}`, {
      ca: pki.ca.cert,
      ...(client ? { client } : {}),
      headers: { Authorization: `Bearer ${token}` },
    });
  const tokenOf = async (client: Pem) =>
    (JSON.parse((await tokenCall(client)).body) as { access_token: string }).access_token;

  test('the metadata offers tls_client_auth and bound tokens', async () => {
    const metadata = await httpsCall(`${sb.urls.okta.issuer}/.well-known/oauth-authorization-server`, {
      ca: pki.ca.cert,
    });
    expect(JSON.parse(metadata.body)).toMatchObject({
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_post',
        'none',
        'tls_client_auth',
      ],
      tls_client_certificate_bound_access_tokens: true,
    });
  });

  test('the registered certificate gets a token, recorded with its thumbprint and the method', async () => {
    const res = await tokenCall(pki.client);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ token_type: 'Bearer', scope: 'ctrp.read' });
    expect(sb.tokenRequests({ clientId: MTLS_CLIENT })).toMatchObject([
      { status: 200, clientAuth: 'tls_client_auth', clientCertificate: pki.client.thumbprint },
    ]);
  });

  test.each([
    ['no certificate', undefined, 'The client must present its certificate (tls_client_auth)'],
    [
      'a self-signed one with the right SAN',
      pki.selfSigned,
      'The client certificate is not issued by a trusted CA',
    ],
    [
      'one of the CA with another SAN',
      pki.otherSan,
      'The client certificate is not the one registered for this client',
    ],
  ])('the token endpoint refuses %s with 401 invalid_client', async (_name, client, description) => {
    const res = await tokenCall(client);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_client', error_description: description });
    expect(sb.issuedTokens({ clientId: MTLS_CLIENT })).toBe(0);
  });

  test('a secret beside the certificate is not a credential of an mTLS client', async () => {
    const res = await tokenCall(pki.client, { client_secret: 'anything' });
    expect(res.status).toBe(401);
    expect(sb.issuedTokens({ clientId: MTLS_CLIENT })).toBe(0);
  });

  test('secret clients still work beside it, with or without a certificate, and stay unbound', async () => {
    const res = await httpsCall(sb.urls.okta.tokenEndpoint, {
      ca: pki.ca.cert,
      method: 'POST',
      headers: {
        Authorization: basic(demoClients.okta.clientId, demoClients.okta.clientSecret),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: form({ grant_type: 'client_credentials', scope: 'ctrp.read' }).toString(),
    });
    expect(res.status).toBe(200);
    const token = (JSON.parse(res.body) as { access_token: string }).access_token;
    expect((await apiCall(token, undefined)).status).toBe(200);
    expect((await apiCall(token, pki.otherSan)).status).toBe(200);
  });

  test('a bound token works over its certificate only: another one or none gets 401 invalid_token', async () => {
    const token = await tokenOf(pki.client);
    expect((await apiCall(token, pki.client)).status).toBe(200);
    for (const other of [pki.renewed, pki.selfSigned, undefined]) {
      const res = await apiCall(token, other);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_token", error_description="The access token is bound to another client certificate"',
      );
    }
    expect(sb.resourceRequests().map((r) => [r.status, r.clientCertificate])).toEqual([
      [200, pki.client.thumbprint],
      [401, pki.renewed.thumbprint],
      [401, pki.selfSigned.thumbprint],
      [401, undefined],
    ]);
  });

  test('the renewed certificate gets its own token, which the old certificate cannot use', async () => {
    const renewedToken = await tokenOf(pki.renewed);
    expect((await apiCall(renewedToken, pki.renewed)).status).toBe(200);
    expect((await apiCall(renewedToken, pki.client)).status).toBe(401);
  });
});
