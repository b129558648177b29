// SMART Backend Services against the sandbox's SMART server, which checks assertions as
// the spec says (signature by kid, aud, exp, jti replay) and system scopes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, isTokenEndpointError, type RejectedEvent } from '@authrail/core';
import { demoClients, startSandbox, type RecordedRequest, type Sandbox } from '@authrail/sandbox';
import {
  generateSigningKey,
  importPrivateKey,
  publicJwks,
  smartBackendServices,
  type SigningKey,
  type SmartBackendServicesOptions,
} from '@authrail/smart';
import {
  FAST_RETRY,
  TOKEN_FAULT_CASES,
  expectTokenFault,
  sendThrough,
  startOidcProvider,
  type OidcProviderHandle,
} from '@authrail/test-utils';

let sb: Sandbox;
let rsa: SigningKey;
let published: SigningKey;
let jwksServer: Server;
let jwksHits = 0;
/** The FHIR server's documents for discovery tests, by path. */
const documents = new Map<string, { status: number; body: unknown }>();
let docsUrl = '';

const demo = demoClients.smartBackend;

beforeAll(async () => {
  rsa = await generateSigningKey({ alg: 'RS384', kid: 'rs-1' });
  published = await generateSigningKey({ alg: 'ES384' });
  const jwks = await publicJwks([published]);
  jwksServer = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      jwksHits += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
      return;
    }
    const doc = documents.get(req.url ?? '');
    res
      .writeHead(doc?.status ?? 404, { 'content-type': 'application/json' })
      .end(JSON.stringify(doc?.body ?? {}));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  docsUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
  sb = await startSandbox({
    clients: [
      {
        service: 'smart',
        clientId: 'rs384-client',
        jwks: await publicJwks([rsa]),
        scopes: ['system/Patient.rs'],
      },
      {
        service: 'smart',
        clientId: 'jwks-url-client',
        jwksUrl: `${docsUrl}/jwks.json`,
        scopes: ['system/*.rs'],
      },
    ],
  });
});
afterEach(() => {
  sb.reset();
  documents.clear();
});
afterAll(async () => {
  await sb.close();
  await new Promise((resolve) => jwksServer.close(resolve));
});

async function demoOptions(
  extra: Partial<SmartBackendServicesOptions> = {},
): Promise<SmartBackendServicesOptions> {
  return {
    fhirBaseUrl: sb.urls.smart.fhirBaseUrl,
    clientId: demo.clientId,
    privateKey: await importPrivateKey({ ...demo.privateJwk }, { kid: demo.kid }),
    scope: 'system/Patient.rs',
    ...extra,
  };
}

/** The header and claims of the client assertion a recorded token request carried. */
function assertionOf(record: RecordedRequest): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const [header, claims] = new URLSearchParams(record.body.toString())
    .get('client_assertion')!
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
  return { header: header!, claims: claims! };
}

const configurationReads = () =>
  sb.requests.filter((r) => r.path.endsWith('/.well-known/smart-configuration'));

describe('smartBackendServices against a SMART server', () => {
  test('ES384: reads the SMART configuration once, one assertion-authenticated token for concurrent calls', async () => {
    const strategy = smartBackendServices(await demoOptions());
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Patient`)),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await responses[0]!.json()) as unknown).toMatchObject({ resourceType: 'Bundle' });
    expect(configurationReads()).toHaveLength(1);
    const [tokenRequest, ...more] = sb.tokenRequests({ service: 'smart' });
    expect(more).toHaveLength(0);
    expect(tokenRequest).toMatchObject({
      status: 200,
      clientAuth: 'private_key_jwt',
      clientId: demo.clientId,
    });
    const form = new URLSearchParams(tokenRequest!.body.toString());
    expect(form.get('scope')).toBe('system/Patient.rs');
    expect(form.has('client_secret')).toBe(false);
    const { header, claims } = assertionOf(tokenRequest!);
    expect(header).toMatchObject({ alg: 'ES384', kid: demo.kid });
    expect(claims).toMatchObject({
      iss: demo.clientId,
      sub: demo.clientId,
      aud: sb.urls.smart.tokenEndpoint,
    });
    expect(Number(claims.exp) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
  });

  test('RS384 with a registered JWKS; v1 scopes are v1, v2 scopes v2', async () => {
    const strategy = smartBackendServices({
      fhirBaseUrl: sb.urls.smart.fhirBaseUrl,
      clientId: 'rs384-client',
      privateKey: { key: rsa.privateKey, kid: rsa.kid },
      scope: 'system/Patient.read',
    });
    const response = await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
    const [request] = sb.tokenRequests({ service: 'smart' });
    const { header } = assertionOf(request!);
    expect(header).toMatchObject({ alg: 'RS384', kid: 'rs-1' });
  });

  test('a client whose keys are at a JWKS URL; a new token after revocation is a new assertion (the server refuses a jti twice)', async () => {
    const strategy = smartBackendServices({
      fhirBaseUrl: sb.urls.smart.fhirBaseUrl,
      clientId: 'jwks-url-client',
      privateKey: { key: published.privateKey, kid: published.kid },
      scope: 'system/Patient.rs system/Observation.rs',
    });
    expect((await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Observation`)).status).toBe(200);
    expect(sb.revokeTokens({ service: 'smart' })).toBe(1);
    // 401 invalid_token → the token is dropped → a new assertion → replayed once.
    expect((await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Patient`)).status).toBe(200);
    const tokenRequests = sb.tokenRequests({ service: 'smart' });
    expect(tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    const jtis = tokenRequests.map((r) => assertionOf(r).claims.jti);
    expect(new Set(jtis).size).toBe(2);
    expect(jwksHits).toBeGreaterThanOrEqual(2);
  });

  test('a signer (a KMS stand-in holding a non-extractable key) signs every assertion; the key never leaves it', async () => {
    const key = await importPrivateKey({ ...demo.privateJwk }, { kid: demo.kid });
    const signed: string[] = [];
    const strategy = smartBackendServices(
      await demoOptions({
        privateKey: undefined,
        signer: {
          alg: 'ES384',
          kid: demo.kid,
          async sign(header, claims) {
            const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
            const signature = await crypto.subtle.sign(
              { name: 'ECDSA', hash: 'SHA-384' },
              key.key,
              new TextEncoder().encode(input),
            );
            signed.push(claims.jti);
            return `${input}.${Buffer.from(signature).toString('base64url')}`;
          },
        },
      }),
    );
    expect(key.key.extractable).toBe(false);
    expect((await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Patient`)).status).toBe(200);
    sb.revokeTokens({ service: 'smart' });
    expect((await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Patient`)).status).toBe(200);
    expect(signed).toHaveLength(2);
    expect(signed[0]).not.toBe(signed[1]);
  });

  test('insufficient_scope from the FHIR server: no new token, no replay, a rejected event with the scope asked for', async () => {
    const rejected: RejectedEvent[] = [];
    const strategy = smartBackendServices(await demoOptions({ on: { rejected: (e) => rejected.push(e) } }));
    const response = await sendThrough(strategy, `${sb.urls.smart.fhirBaseUrl}/Observation`);
    expect(response.status).toBe(403);
    expect(sb.tokenRequests({ service: 'smart' })).toHaveLength(1);
    expect(rejected).toEqual([
      expect.objectContaining({
        reason: 'insufficient-scope',
        replay: false,
        scope: 'system/Observation.rs',
      }),
    ]);
  });

  test('tokens go to the FHIR server only: another origin gets no Authorization', async () => {
    const strategy = smartBackendServices(await demoOptions());
    await sendThrough(strategy, `${sb.urls.elsewhere}/Patient`);
    const leaked = sb.requests.filter((r) => r.listener === 'elsewhere');
    expect(leaked).toHaveLength(1);
    expect(leaked[0]!.headers.authorization).toBeUndefined();
    expect(sb.tokenRequests({ service: 'smart' })).toHaveLength(0);
  });

  test('a key the server does not know is a typed invalid_client error that shows neither the assertion nor the key', async () => {
    const stranger = await generateSigningKey({ alg: 'ES384', kid: demo.kid });
    sb.inject('smart-token', { type: 'echo-credentials' }, { times: 1 });
    const strategy = smartBackendServices(
      await demoOptions({
        privateKey: { key: stranger.privateKey, kid: demo.kid },
        retry: { ...FAST_RETRY, failureCooldownMs: 1 },
      }),
    );
    const error = await strategy.tokens.getToken().catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      error: 'invalid_client',
      status: 401,
    });
    const assertion = new URLSearchParams(sb.tokenRequests({ service: 'smart' })[0]!.body.toString()).get(
      'client_assertion',
    )!;
    const shown = [
      String(error),
      JSON.stringify(error),
      inspect(error, { depth: 10, showHidden: true }),
    ].join('\n');
    expect(shown).not.toContain(assertion);
    expect(shown).not.toContain(assertion.split('.')[2]!); // not even the signature
    // Without the echo, the server's own refusal says why.
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms cooldown
    const again = await strategy.tokens.getToken().catch((e: unknown) => e);
    expect(again).toMatchObject({
      error: 'invalid_client',
      errorDescription: 'The client assertion signature does not verify',
    });
  });

  test.each(TOKEN_FAULT_CASES.map((c) => [c.name, c] as const))(
    'token endpoint fault: %s',
    async (_name, c) => {
      await expectTokenFault(
        c,
        sb,
        'smart-token',
        smartBackendServices(await demoOptions({ retry: FAST_RETRY })).tokens,
      );
    },
  );
});

describe('the SMART configuration', () => {
  const strategyAt = async (path: string, extra: Partial<SmartBackendServicesOptions> = {}) =>
    smartBackendServices(
      await demoOptions({ fhirBaseUrl: `${docsUrl}${path}`, retry: FAST_RETRY, ...extra }),
    );

  test('missing (404): a typed error naming the document; read again on the next call', async () => {
    const strategy = await strategyAt('/r4', { retry: { ...FAST_RETRY, failureCooldownMs: 1 } });
    const error = await strategy.tokens.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 404 });
    expect(String(error)).toContain(`${docsUrl}/r4/.well-known/smart-configuration`);
    documents.set('/r4/.well-known/smart-configuration', {
      status: 200,
      body: { token_endpoint: sb.urls.smart.tokenEndpoint },
    });
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms cooldown
    await expect(strategy.tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  test.each([
    ['no token_endpoint', { capabilities: [] }, 'has no token_endpoint'],
    [
      'an http: token endpoint off loopback',
      { token_endpoint: 'http://fhir.example.org/token' },
      'not an https: URL',
    ],
    [
      'no private_key_jwt',
      { token_endpoint: 'https://x/token', token_endpoint_auth_methods_supported: ['client_secret_basic'] },
      'does not list private_key_jwt',
    ],
    [
      'only RS384 for an ES384 key',
      { token_endpoint: 'https://x/token', token_endpoint_auth_signing_alg_values_supported: ['RS384'] },
      'does not accept ES384 assertions',
    ],
    ['not an object', ['token_endpoint'], 'is not a JSON object'],
  ])('%s: TOKEN_RESPONSE_INVALID saying so, and no token request', async (_name, body, message) => {
    documents.set('/bad/.well-known/smart-configuration', { status: 200, body });
    const error = await (await strategyAt('/bad')).tokens.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID });
    expect((error as Error).message).toContain(message);
    expect(sb.tokenRequests({ service: 'smart' })).toHaveLength(0);
  });

  test('tokenEndpoint given: no configuration is read', async () => {
    const strategy = await strategyAt('/none', {
      tokenEndpoint: sb.urls.smart.tokenEndpoint,
      origins: [docsUrl],
    });
    await expect(strategy.tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(configurationReads()).toHaveLength(0);
  });
});

describe('options', () => {
  test.each([
    ['fhirBaseUrl', { fhirBaseUrl: 'http://fhir.example.org/r4' }],
    ['fhirBaseUrl', { fhirBaseUrl: 'not a url' }],
    ['privateKey', { privateKey: undefined }],
    ['privateKey', { signer: { alg: 'ES384', kid: 'k', sign: () => '' } }],
    ['scope', { scope: '' }],
    ['scope', { scope: 'system/Patient.rs patient/Observation.rs' }],
    ['tokenEndpoint', { tokenEndpoint: 'http://auth.example.org/token' }],
    ['clientId', { clientId: '' }],
  ] as const)('%s: a ConfigError naming it', async (option, extra) => {
    const options = { ...(await demoOptions()), ...extra } as SmartBackendServicesOptions;
    expect(() => smartBackendServices(options)).toThrow(ConfigError);
    try {
      smartBackendServices(options);
    } catch (error) {
      expect(error).toMatchObject({ option });
    }
  });

  test('a key SMART servers do not take (ES256), or one without a kid, fails naming privateKey', async () => {
    const es256 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ])) as CryptoKeyPair;
    expect(() =>
      smartBackendServices({ ...demoOptionsSync(), privateKey: { key: es256.privateKey, kid: 'k' } }),
    ).toThrow(/RS384 or ES384.*ES256|ECDSA/);
    const es384 = await generateSigningKey();
    expect(() => smartBackendServices({ ...demoOptionsSync(), privateKey: es384.privateKey })).toThrow(/kid/);
    expect(() =>
      smartBackendServices({
        ...demoOptionsSync(),
        privateKey: undefined,
        signer: { alg: 'RS256', kid: 'k', sign: () => '' },
      }),
    ).toThrow(expect.objectContaining({ option: 'signer.alg' }) as Error);
  });
});

/** Options without a key, for the option checks that fail before any key is read. */
function demoOptionsSync(): SmartBackendServicesOptions {
  return { fhirBaseUrl: sb.urls.smart.fhirBaseUrl, clientId: demo.clientId, scope: 'system/Patient.rs' };
}

describe('DPoP-bound tokens (dpop: true) against a server that requires nonces', () => {
  let nonceSandbox: Sandbox;
  beforeAll(async () => {
    nonceSandbox = await startSandbox({ dpopNonces: true });
  });
  afterAll(() => nonceSandbox.close());

  const claimsOf = (proof: string | undefined) =>
    JSON.parse(Buffer.from(String(proof).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

  test('the token request is answered use_dpop_nonce once, then a DPoP token; every FHIR request carries a new proof', async () => {
    const rejected: RejectedEvent[] = [];
    const strategy = smartBackendServices({
      fhirBaseUrl: nonceSandbox.urls.smart.fhirBaseUrl,
      clientId: demo.clientId,
      privateKey: await importPrivateKey({ ...demo.privateJwk }, { kid: demo.kid }),
      scope: 'system/Patient.rs',
      dpop: true,
      on: { rejected: (e) => rejected.push(e) },
    });
    const patients = `${nonceSandbox.urls.smart.fhirBaseUrl}/Patient?_count=2`;
    expect((await sendThrough(strategy, patients)).status).toBe(200);
    expect((await sendThrough(strategy, patients)).status).toBe(200);
    const tokenRequests = nonceSandbox.tokenRequests({ service: 'smart' });
    expect(tokenRequests.map((r) => r.status)).toEqual([400, 200]); // use_dpop_nonce, then the token
    const fhir = nonceSandbox.resourceRequests({ route: 'smart-fhir' });
    expect(fhir.map((r) => r.status)).toEqual([200, 200]);
    for (const request of fhir) {
      expect(request.headers.authorization).toMatch(/^DPoP /);
      expect(claimsOf(request.headers.dpop)).toMatchObject({
        htm: 'GET',
        htu: `${nonceSandbox.urls.smart.fhirBaseUrl}/Patient`,
      });
    }
    expect(claimsOf(fhir[0]!.headers.dpop).jti).not.toBe(claimsOf(fhir[1]!.headers.dpop).jti);

    // The server rotates its nonce: one use_dpop_nonce, answered with the new one, same token.
    nonceSandbox.rotateDPoPNonce();
    expect((await sendThrough(strategy, patients)).status).toBe(200);
    expect(nonceSandbox.resourceRequests({ route: 'smart-fhir' }).map((r) => r.status)).toEqual([
      200, 200, 401, 200,
    ]);
    expect(nonceSandbox.tokenRequests({ service: 'smart' })).toHaveLength(2);
    expect(rejected).toEqual([expect.objectContaining({ reason: 'dpop-nonce', replay: true })]);

    // A revoked token: dropped, a new one (a new assertion and proof), the request replayed with a new proof.
    nonceSandbox.revokeTokens({ service: 'smart' });
    expect((await sendThrough(strategy, patients)).status).toBe(200);
    expect(nonceSandbox.tokenRequests({ service: 'smart' }).map((r) => r.status)).toEqual([400, 200, 200]);
  });

  test('the token is useless as a Bearer token elsewhere: the sandbox refuses it without the proof', async () => {
    const strategy = smartBackendServices({
      fhirBaseUrl: nonceSandbox.urls.smart.fhirBaseUrl,
      clientId: demo.clientId,
      privateKey: await importPrivateKey({ ...demo.privateJwk }, { kid: demo.kid }),
      scope: 'system/Patient.rs',
      dpop: true,
    });
    const token = await strategy.tokens.getToken();
    expect(token.tokenType).toBe('DPoP');
    const stolen = await fetch(`${nonceSandbox.urls.smart.fhirBaseUrl}/Patient`, {
      headers: { authorization: `Bearer ${token.accessToken}` },
    });
    expect(stolen.status).toBe(401);
    const replayedProof = await fetch(`${nonceSandbox.urls.smart.fhirBaseUrl}/Patient`, {
      headers: {
        authorization: `DPoP ${token.accessToken}`,
        dpop: String(nonceSandbox.tokenRequests({ service: 'smart' }).at(-1)!.headers.dpop),
      },
    });
    expect(replayedProof.status).toBe(401);
    expect(replayedProof.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });
});

describe('smartBackendServices against oidc-provider (a standards-true authorization server)', () => {
  let op: OidcProviderHandle;
  let key: SigningKey;
  beforeAll(async () => {
    key = await generateSigningKey({ alg: 'RS384', kid: 'op-rs384' });
    op = await startOidcProvider({
      scopes: ['system/Patient.rs'],
      clients: [
        {
          client_id: 'smart-backend',
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'RS384',
          jwks: { keys: (await publicJwks([key])).keys },
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        },
      ],
    });
  });
  afterAll(() => op.close());

  test('a token with an RS384 assertion addressed to the token endpoint, DPoP-bound when asked', async () => {
    for (const dpop of [false, true]) {
      const strategy = smartBackendServices({
        fhirBaseUrl: 'http://127.0.0.1:9/fhir',
        tokenEndpoint: `${op.issuer}/token`,
        clientId: 'smart-backend',
        privateKey: { key: key.privateKey, kid: key.kid },
        scope: 'system/Patient.rs',
        ...(dpop ? { dpop: true as const } : {}),
      });
      const token = await strategy.tokens.getToken();
      expect(token.tokenType).toBe(dpop ? 'DPoP' : 'Bearer');
      const sent = op.tokenRequests().at(-1)!;
      expect(sent.form.get('client_assertion_type')).toBe(
        'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      );
      expect(Boolean(sent.headers.dpop)).toBe(dpop);
    }
  });
});
