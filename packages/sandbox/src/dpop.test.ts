// The sandbox's DPoP checks, driven by hand-made proofs: each thing RFC 9449 says a
// server checks must be refused when wrong, or tests of clients against it prove nothing.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ dpopNonces: true });
});
afterEach(() => sb.reset());
afterAll(() => sb.close());

const demo = demoClients.smartBackend;
const b64 = (value: string | ArrayBuffer) => Buffer.from(value as ArrayBuffer).toString('base64url');
const sha256 = async (text: string) =>
  b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

async function keyPair(): Promise<{ pair: CryptoKeyPair; jwk: JsonWebKey }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { pair, jwk: { kty, crv, x, y } };
}

async function proof(
  key: { pair: CryptoKeyPair; jwk: JsonWebKey },
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const input = `${b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk, ...header }))}.${b64(
    JSON.stringify({ jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims }),
  )}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.pair.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(signature)}`;
}

async function assertion(): Promise<string> {
  const key = await crypto.subtle.importKey(
    'jwk',
    { ...demo.privateJwk },
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  );
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64(JSON.stringify({ alg: 'ES384', kid: demo.kid, typ: 'JWT' }))}.${b64(
    JSON.stringify({
      iss: demo.clientId,
      sub: demo.clientId,
      aud: sb.urls.smart.tokenEndpoint,
      exp: now + 60,
      jti: crypto.randomUUID(),
    }),
  )}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-384' },
    key,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(signature)}`;
}

async function tokenRequest(dpop?: string) {
  const response = await fetch(sb.urls.smart.tokenEndpoint, {
    method: 'POST',
    headers: dpop ? { dpop } : {},
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(),
    }),
  });
  return { response, body: (await response.json()) as Record<string, string> };
}

/** A DPoP-bound token for `key`, the nonce dance done; `lastNonce` is the server's nonce. */
let lastNonce = '';
async function boundToken(key: { pair: CryptoKeyPair; jwk: JsonWebKey }): Promise<string> {
  const first = await tokenRequest(await proof(key, { htm: 'POST', htu: sb.urls.smart.tokenEndpoint }));
  expect(first.response.status).toBe(400);
  expect(first.body.error).toBe('use_dpop_nonce');
  const nonce = first.response.headers.get('dpop-nonce')!;
  const { response, body } = await tokenRequest(
    await proof(key, { htm: 'POST', htu: sb.urls.smart.tokenEndpoint, nonce }),
  );
  expect(response.status).toBe(200);
  expect(body.token_type).toBe('DPoP');
  lastNonce = response.headers.get('dpop-nonce')!;
  expect(lastNonce).toBe(nonce);
  return body.access_token!;
}

describe('DPoP at the SMART token endpoint and the FHIR API', () => {
  test('a good proof with the nonce: a DPoP token, usable with a proof of the same key', async () => {
    const key = await keyPair();
    const token = await boundToken(key);
    const url = `${sb.urls.smart.fhirBaseUrl}/Patient`;
    const nonce = lastNonce;
    const good = await proof(key, { htm: 'GET', htu: url, ath: await sha256(token), nonce });
    const response = await fetch(`${url}?_count=1`, {
      headers: { authorization: `DPoP ${token}`, dpop: good },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('dpop-nonce')).toBeTruthy();
    // The same proof again: replay.
    const again = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: good } });
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('jti replay');
  });

  test.each([
    ['htm', (url: string) => ({ htm: 'POST', htu: url }), 'htm must be GET'],
    ['htu with another path', (url: string) => ({ htm: 'GET', htu: `${url}/other` }), 'htu must be'],
    ['ath of another token', (url: string) => ({ htm: 'GET', htu: url, ath: 'x' }), 'ath does not match'],
    [
      'iat an hour ago',
      (url: string) => ({ htm: 'GET', htu: url, iat: Math.floor(Date.now() / 1000) - 3600 }),
      'iat',
    ],
  ])('refused, invalid_dpop_proof: %s', async (_name, claims, description) => {
    const key = await keyPair();
    const token = await boundToken(key);
    const url = `${sb.urls.smart.fhirBaseUrl}/Patient`;
    const ath = await sha256(token);
    const dpop = await proof(key, { ath, nonce: 'n', ...claims(url) });
    const response = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop } });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(challenge).toContain(description);
  });

  test('refused: a proof by another key, the bound token as Bearer, a stale nonce (use_dpop_nonce with the new one)', async () => {
    const key = await keyPair();
    const token = await boundToken(key);
    const url = `${sb.urls.smart.fhirBaseUrl}/Patient`;
    const ath = await sha256(token);
    const nonce = lastNonce;
    const other = await proof(await keyPair(), { htm: 'GET', htu: url, ath, nonce });
    const byOther = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: other } });
    expect(byOther.headers.get('www-authenticate')).toContain('another key');
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    sb.rotateDPoPNonce();
    const stale = await fetch(url, {
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'GET', htu: url, ath, nonce }),
      },
    });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(stale.headers.get('dpop-nonce')).not.toBe(nonce);
  });

  test('a token endpoint proof with a private key in its jwk, or the wrong htu, is invalid_dpop_proof', async () => {
    const key = await keyPair();
    const leaked = { ...key, jwk: { ...key.jwk, d: 'secret' } };
    const withPrivate = await tokenRequest(
      await proof(leaked, { htm: 'POST', htu: sb.urls.smart.tokenEndpoint }),
    );
    expect(withPrivate.body).toMatchObject({ error: 'invalid_dpop_proof' });
    const wrongHtu = await tokenRequest(await proof(key, { htm: 'POST', htu: sb.urls.smart.fhirBaseUrl }));
    expect(wrongHtu.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});
