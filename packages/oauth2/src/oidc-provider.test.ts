// The generic grants against oidc-provider, a standards-true authorization server
// started inside the tests. Assertions on client authentication read the request the
// server actually received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, createAuthStrategy, isTokenEndpointError } from '@authrail/core';
import {
  authorizationCode,
  clientCredentials,
  clientSecretBasic,
  clientSecretPost,
  createMemoryStorage,
  none,
  privateKeyJwt,
} from '@authrail/oauth2';
import { signInHeadlessly, startOidcProvider, type OidcProviderHandle } from '@authrail/test-utils';

const SECRET = 'a-very-long-client-secret-for-oidc-provider-tests';
// RFC 6749 allows only VSCHAR (%x20-7E) in a secret; these need form-encoding in Basic.
const SPECIAL_SECRET = 's3cret:with/special+chars & spaces=%20-0123456789';
const REDIRECT = 'http://127.0.0.1:8765/callback';

/** Every way an error can be printed or shipped: none may contain `secret`. */
function rendered(error: unknown): string {
  const e = error as Error;
  return [
    String(e),
    e.message,
    e.stack,
    JSON.stringify(e),
    inspect(e, { depth: 10, showHidden: true }),
    inspect(e.cause, { depth: 10, showHidden: true }),
  ].join('\n');
}
let op: OidcProviderHandle;
let signingKey: CryptoKey;
/** SMART Backend Services' two algorithms: a key pair each, the public half registered. */
const smartKeys: Record<'RS384' | 'ES384', CryptoKeyPair> = {} as never;
const SMART_ALGORITHMS = {
  RS384: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-384',
  },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
} as const;
const b64url = (data: string | ArrayBuffer) => Buffer.from(data as ArrayBuffer).toString('base64url');

beforeAll(async () => {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  signingKey = pair.privateKey;
  const jwk = {
    ...(await crypto.subtle.exportKey('jwk', pair.publicKey)),
    kid: 'backend-key-1',
    use: 'sig',
    alg: 'ES256',
  };
  const smartClients = [];
  for (const alg of ['RS384', 'ES384'] as const) {
    smartKeys[alg] = (await crypto.subtle.generateKey(SMART_ALGORITHMS[alg], false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    smartClients.push({
      client_id: `smart-${alg}`,
      token_endpoint_auth_method: 'private_key_jwt' as const,
      token_endpoint_auth_signing_alg: alg,
      jwks: {
        keys: [{ ...(await crypto.subtle.exportKey('jwk', smartKeys[alg].publicKey)), kid: `${alg}-1`, alg }],
      },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    });
  }
  op = await startOidcProvider({
    clients: [
      ...smartClients,
      {
        client_id: 'svc-post',
        client_secret: SECRET,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'svc-basic',
        client_secret: SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'svc-special',
        client_secret: SPECIAL_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'svc-jwt',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [jwk] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT],
      },
    ],
  });
});
afterAll(() => op.close());

const direct = () => ({ issuer: op.issuer, tokenEndpoint: `${op.issuer}/token` });
const discovered = () => ({ issuer: op.issuer, discovery: true as const });
const lastToken = () => op.tokenRequests().at(-1)!;

describe('client credentials against oidc-provider', () => {
  test('client_secret_post: the secret travels in the form body, no Authorization header', async () => {
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost(SECRET),
      scope: 'api:read',
    });
    const token = await source.fetchToken({});
    expect(token.accessToken.length).toBeGreaterThan(10);
    expect(token.tokenType).toBe('Bearer');
    const sent = lastToken();
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.form.get('client_id')).toBe('svc-post');
    expect(sent.form.get('client_secret')).toBe(SECRET);
    expect(sent.form.get('grant_type')).toBe('client_credentials');
  });

  test('client_secret_basic: the secret travels in a Basic header, not the body', async () => {
    const source = clientCredentials({
      server: discovered(),
      clientId: 'svc-basic',
      clientAuth: clientSecretBasic(SECRET),
    });
    await source.fetchToken({});
    const sent = lastToken();
    const [id, secret] = Buffer.from(sent.headers.authorization!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    expect([decodeURIComponent(id!), decodeURIComponent(secret!)]).toEqual(['svc-basic', SECRET]);
    expect(sent.form.has('client_secret')).toBe(false);
  });

  test('private_key_jwt: a signed client assertion (SMART Backend Services style)', async () => {
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-jwt',
      clientAuth: privateKeyJwt({ key: signingKey, kid: 'backend-key-1' }),
    });
    await source.fetchToken({});
    const sent = lastToken();
    expect(sent.form.get('client_assertion_type')).toBe(
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    );
    const [header, payload] = sent.form
      .get('client_assertion')!
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: 'ES256', kid: 'backend-key-1' });
    expect(payload).toMatchObject({ iss: 'svc-jwt', sub: 'svc-jwt' });
    expect(sent.form.has('client_secret')).toBe(false);
  });

  /** The header and claims of the last token request's client assertion. */
  const lastAssertion = () => {
    const [header, claims] = lastToken()
      .form.get('client_assertion')!
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    return { header: header!, claims: claims! };
  };

  for (const alg of ['RS384', 'ES384'] as const) {
    test(`private_key_jwt with ${alg} (SMART Backend Services): aud is the token endpoint, a new jti each time`, async () => {
      const source = clientCredentials({
        server: discovered(),
        clientId: `smart-${alg}`,
        clientAuth: privateKeyJwt({ key: smartKeys[alg].privateKey, kid: `${alg}-1` }),
      });
      await source.fetchToken({});
      const first = lastAssertion();
      expect(first.header).toMatchObject({ alg, kid: `${alg}-1` });
      expect(first.claims).toMatchObject({
        iss: `smart-${alg}`,
        sub: `smart-${alg}`,
        aud: `${op.issuer}/token`,
      });
      expect(Number(first.claims.exp) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
      await source.fetchToken({});
      expect(lastAssertion().claims.jti).not.toBe(first.claims.jti);
    });

    test(`private_key_jwt with ${alg} through a signer (a KMS stand-in): the key never leaves it`, async () => {
      const { privateKey } = smartKeys[alg];
      const seen: unknown[] = [];
      const source = clientCredentials({
        server: direct(),
        clientId: `smart-${alg}`,
        clientAuth: privateKeyJwt({
          alg,
          kid: `${alg}-1`,
          async sign(header, claims) {
            seen.push({ header, claims });
            const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
            const signature = await crypto.subtle.sign(
              alg === 'ES384' ? { name: 'ECDSA', hash: 'SHA-384' } : 'RSASSA-PKCS1-v1_5',
              privateKey,
              new TextEncoder().encode(input),
            );
            return `${input}.${b64url(signature)}`;
          },
        }),
      });
      const token = await source.fetchToken({});
      expect(token.accessToken.length).toBeGreaterThan(10);
      await source.fetchToken({}); // a second assertion: the server refuses a jti it has seen
      expect(seen).toEqual([
        {
          header: { alg, kid: `${alg}-1`, typ: 'JWT' },
          claims: expect.objectContaining({ iss: `smart-${alg}`, aud: `${op.issuer}/token` }) as unknown,
        },
        expect.anything(),
      ]);
      const [a, b] = seen as { claims: { jti: string } }[];
      expect(a!.claims.jti).not.toBe(b!.claims.jti);
    });
  }

  test('private_key_jwt: a signer that returns no JWS is a typed error, and its output never shown', async () => {
    const source = clientCredentials({
      server: direct(),
      clientId: 'smart-ES384',
      clientAuth: privateKeyJwt({ alg: 'ES384', kid: 'ES384-1', sign: () => 'not a jws' }),
    });
    const sent = op.tokenRequests().length;
    const error = await source.fetchToken({}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE });
    expect((error as Error).message).toMatch(/the signer failed \(it returned no compact JWS/);
    expect(rendered(error)).not.toContain('not a jws');
    expect(op.tokenRequests().length).toBe(sent); // nothing was sent without an assertion
    expect(() => privateKeyJwt({ alg: 'none', sign: () => '' })).toThrow(/signer\.alg/);
    expect(() => privateKeyJwt({ alg: 'ES384', kid: '', sign: () => '' })).toThrow(/signer\.kid/);
  });

  test('private_key_jwt: a key function is read again after invalid_client (key rotation)', async () => {
    const stale = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const keys = [
      { key: stale.privateKey, kid: 'backend-key-1' },
      { key: signingKey, kid: 'backend-key-1' },
    ];
    let reads = 0;
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-jwt',
      clientAuth: privateKeyJwt(() => keys[reads++]!),
    });
    await expect(source.fetchToken({})).resolves.toBeDefined();
    expect(reads).toBe(2); // the stale key was refused, the rotated one read and used
  });

  test('discovery happens once and is reused', async () => {
    const before = op.requests.filter((r) => r.path.startsWith('/.well-known')).length;
    const source = clientCredentials({
      server: discovered(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost(SECRET),
    });
    await source.fetchToken({});
    await source.fetchToken({});
    expect(op.requests.filter((r) => r.path.startsWith('/.well-known')).length - before).toBe(1);
  });

  test('a custom fetch carries every request', async () => {
    const seen: string[] = [];
    const source = clientCredentials({
      server: discovered(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost(SECRET),
      fetch: (input, init) => (
        seen.push(String(input instanceof Request ? input.url : input)),
        fetch(input, init)
      ),
    });
    await source.fetchToken({});
    expect(seen.map((u) => new URL(u).pathname)).toEqual(['/.well-known/openid-configuration', '/token']);
  });

  test('invalid_client: the secret function is read once more, then the typed error, with no secret in it', async () => {
    let reads = 0;
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost(() => {
        reads += 1;
        return 'wrong-secret-for-this-client';
      }),
    });
    const error = await source.fetchToken({}).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      status: 401,
      error: 'invalid_client',
    });
    expect(reads).toBe(2);
    const text = [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })].join(
      '\n',
    );
    expect(text).not.toContain('wrong-secret-for-this-client');
  });

  test('client_secret_basic with special characters: form-encoded per RFC 6749 §2.3.1', async () => {
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-special',
      clientAuth: clientSecretBasic(SPECIAL_SECRET),
    });
    await expect(source.fetchToken({})).resolves.toBeDefined();
    const [id, secret] = Buffer.from(lastToken().headers.authorization!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
    expect([formDecode(id!), formDecode(secret!)]).toEqual(['svc-special', SPECIAL_SECRET]);
  });

  test('a secret function that now returns the rotated secret succeeds on the second read', async () => {
    const values = ['last-years-secret-value', SECRET];
    let reads = 0;
    const before = op.tokenRequests().length;
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-basic',
      clientAuth: clientSecretBasic(async () => values[reads++]!),
    });
    await expect(source.fetchToken({})).resolves.toBeDefined();
    expect(reads).toBe(2);
    expect(op.tokenRequests().length - before).toBe(2);
    await source.fetchToken({});
    expect(reads).toBe(2); // cached until the next invalid_client
  });

  test('a fixed secret is not sent again after invalid_client: nothing could have changed', async () => {
    const before = op.tokenRequests().length;
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost('a-fixed-but-wrong-secret'),
    });
    const error = await source.fetchToken({}).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(op.tokenRequests().length - before).toBe(1);
    expect(rendered(error)).not.toContain('a-fixed-but-wrong-secret');
  });

  test('a failing secret function is a typed, retryable error', async () => {
    const before = op.tokenRequests().length;
    const source = clientCredentials({
      server: direct(),
      clientId: 'svc-post',
      clientAuth: clientSecretPost(() => Promise.reject(new Error('vault sealed'))),
    });
    const error = await source.fetchToken({}).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, retryable: true });
    expect((error as Error).message).toMatch(/client credential/);
    expect(op.tokenRequests().length - before).toBe(0);
  });

  test("discovery: RFC 8414's document when asked for; a missing document is a typed 404", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => (
      seen.push(new URL(String(input instanceof Request ? input.url : input)).pathname),
      fetch(input, init)
    );
    const rfc8414 = clientCredentials({
      server: { issuer: op.issuer, discovery: true, algorithm: 'oauth2' },
      clientId: 'svc-post',
      clientAuth: clientSecretPost(SECRET),
      fetch: recording,
    });
    await expect(rfc8414.fetchToken({})).resolves.toBeDefined();
    expect(seen).toEqual(['/.well-known/oauth-authorization-server', '/token']);

    seen.length = 0;
    const nowhere = clientCredentials({
      server: { issuer: `${op.issuer}/no-such-tenant`, discovery: true },
      clientId: 'svc-post',
      clientAuth: clientSecretPost(SECRET),
      fetch: recording,
    });
    const error = await nowhere.fetchToken({}).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ status: 404, retryable: false });
    // Both forms are tried, and the error says where it looked.
    expect((error as Error).message).toMatch(
      /^no discovery document for issuer .*\/no-such-tenant: tried .*\/no-such-tenant\/\.well-known\/openid-configuration \(404\), .*\/\.well-known\/oauth-authorization-server\/no-such-tenant \(404\)$/,
    );
    expect(seen).toEqual([
      '/no-such-tenant/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/no-such-tenant',
    ]);
    // Through the token manager: a 404 is not retried (two documents asked for, once each).
    seen.length = 0;
    const strategy = createAuthStrategy({ source: nowhere, origins: ['https://api.example.org'] });
    await expect(strategy.tokens.getToken()).rejects.toMatchObject({ status: 404 });
    expect(seen).toHaveLength(2);
    expect(() =>
      clientCredentials({
        server: { issuer: op.issuer, discovery: true, algorithm: 'saml' as never },
        clientId: 'x',
        clientAuth: clientSecretPost(SECRET),
      }),
    ).toThrow(/^server\.algorithm:/);
  });

  test('http: is refused except loopback; bad options name the option', () => {
    expect(() =>
      clientCredentials({
        server: { issuer: 'http://auth.example.org', tokenEndpoint: 'http://auth.example.org/token' },
        clientId: 'x',
        clientAuth: clientSecretPost(SECRET),
      }),
    ).toThrow(/^server\.issuer: must be an https: URL/);
    expect(() =>
      clientCredentials({
        server: { issuer: 'https://auth.example.org', tokenEndpoint: 'http://auth.example.org/token' },
        clientId: 'x',
        clientAuth: clientSecretPost(SECRET),
      }),
    ).toThrow(/^server\.tokenEndpoint:/);
    expect(() =>
      clientCredentials({ server: direct(), clientId: '', clientAuth: clientSecretPost(SECRET) }),
    ).toThrow(/^clientId:/);
    expect(() => clientCredentials({ server: direct(), clientId: 'x', clientAuth: none() })).toThrow(
      /^clientAuth:/,
    );
    expect(() => clientCredentials({ server: direct(), clientId: 'x', clientAuth: {} as never })).toThrow(
      /^clientAuth:/,
    );
    expect(() => privateKeyJwt('pem' as never)).toThrow(ConfigError);
  });
});

describe('authorization code + PKCE against oidc-provider', () => {
  test('sign in headlessly, exchange with the verifier, refresh with rotation, reuse refused', async () => {
    const source = authorizationCode({
      server: discovered(),
      clientId: 'spa',
      redirectUri: REDIRECT,
      scope: 'openid offline_access',
      storage: createMemoryStorage(),
    });
    const url = await source.authorizationUrl({ prompt: 'consent' });
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toMatch(/\S{20,}/);
    const back = await signInHeadlessly(url);
    const token = await source.handleRedirect(back);
    expect(token.refreshToken).toBeTruthy();
    const exchange = lastToken();
    expect(exchange.form.get('grant_type')).toBe('authorization_code');
    expect(exchange.form.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(exchange.headers.authorization).toBeUndefined();

    const refreshed = await source.fetchToken({ refreshToken: token.refreshToken! });
    expect(refreshed.accessToken).not.toBe(token.accessToken);
    expect(refreshed.refreshToken).toBeTruthy();
    expect(refreshed.refreshToken).not.toBe(token.refreshToken); // rotated
    expect(lastToken().form.get('grant_type')).toBe('refresh_token');
    await expect(source.fetchToken({ refreshToken: token.refreshToken! })).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      error: 'invalid_grant',
    });
  });

  test('revoke: the refresh token is dead at the server afterwards (RFC 7009)', async () => {
    const source = authorizationCode({
      server: discovered(),
      clientId: 'spa',
      redirectUri: REDIRECT,
      scope: 'openid offline_access',
      storage: createMemoryStorage(),
    });
    const token = await source.handleRedirect(
      await signInHeadlessly(await source.authorizationUrl({ prompt: 'consent' })),
    );
    await source.revoke(token.refreshToken!, 'refresh_token');
    const revocation = op.requests.at(-1)!;
    expect(revocation).toMatchObject({ method: 'POST', path: '/token/revocation' });
    expect(revocation.form.get('token_type_hint')).toBe('refresh_token');
    await expect(source.fetchToken({ refreshToken: token.refreshToken! })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  test('a redirect carrying an error is an AuthorizationResponseError; the code is never exchanged', async () => {
    const source = authorizationCode({
      server: discovered(),
      clientId: 'spa',
      redirectUri: REDIRECT,
      storage: createMemoryStorage(),
    });
    const url = await source.authorizationUrl();
    const back = new URL(REDIRECT);
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'End-User aborted interaction');
    back.searchParams.set('state', url.searchParams.get('state')!);
    const before = op.tokenRequests().length;
    await expect(source.handleRedirect(back)).rejects.toMatchObject({
      code: ErrorCodes.AUTHORIZATION_RESPONSE,
      error: 'access_denied',
      errorDescription: 'End-User aborted interaction',
    });
    // the pending state is gone: the same redirect cannot be replayed
    await expect(source.handleRedirect(back)).rejects.toMatchObject({ error: 'no_pending_authorization' });
    expect(op.tokenRequests()).toHaveLength(before);
  });

  test('a wrong state never reaches the token endpoint', async () => {
    const source = authorizationCode({
      server: discovered(),
      clientId: 'spa',
      redirectUri: REDIRECT,
      scope: 'openid',
      storage: createMemoryStorage(),
    });
    const back = new URL(await signInHeadlessly(await source.authorizationUrl({ prompt: 'consent' })));
    back.searchParams.set('state', 'not-the-state');
    const before = op.tokenRequests().length;
    await expect(source.handleRedirect(back)).rejects.toMatchObject({
      code: ErrorCodes.AUTHORIZATION_RESPONSE,
      error: 'state_mismatch',
    });
    expect(op.tokenRequests()).toHaveLength(before);
  });

  test('without a refresh token the source asks for a new sign-in', async () => {
    const source = authorizationCode({
      server: discovered(),
      clientId: 'spa',
      redirectUri: REDIRECT,
      storage: createMemoryStorage(),
    });
    await expect(source.fetchToken({})).rejects.toMatchObject({ code: ErrorCodes.NOT_AUTHENTICATED });
  });
});

describe('token endpoints that misbehave', () => {
  interface Answer {
    status: number;
    body: string;
    type?: string;
    headers?: Record<string, string>;
  }
  let server: Server;
  let base: string;
  let handler: (body: string) => Answer | 'hang';
  const received: { authorization?: string; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          body,
        });
        const answer = handler(body);
        if (answer === 'hang') return;
        res.writeHead(answer.status, {
          'Content-Type': answer.type ?? 'application/json',
          ...answer.headers,
        });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const source = () =>
    clientCredentials({
      server: { issuer: base, tokenEndpoint: `${base}/token` },
      clientId: 'c',
      clientAuth: clientSecretPost(SECRET),
    });
  const ok = {
    status: 200,
    body: JSON.stringify({ access_token: 'at-1', token_type: 'bearer', expires_in: 60 }),
  };

  test('a refresh answer without refresh_token keeps the old one; a rotated one replaces it', async () => {
    handler = () => ok;
    const kept = await source().fetchToken({ refreshToken: 'old-refresh-token' });
    expect(kept.refreshToken).toBe('old-refresh-token');
    expect(kept.tokenType).toBe('Bearer');
    expect(new URLSearchParams(received.at(-1)!.body).get('grant_type')).toBe('refresh_token');
    handler = () => ({
      status: 200,
      body: JSON.stringify({ access_token: 'at-2', token_type: 'bearer', refresh_token: 'rotated-refresh' }),
    });
    const rotated = await source().fetchToken({ refreshToken: 'old-refresh-token' });
    expect(rotated.refreshToken).toBe('rotated-refresh');
  });

  test('a Basic secret outside Latin-1 is sent (form-encoded), never thrown on', async () => {
    handler = () => ok;
    const source = clientCredentials({
      server: { issuer: base, tokenEndpoint: `${base}/token` },
      clientId: 'c',
      clientAuth: clientSecretBasic('pässwörd-€-secret'),
    });
    await expect(source.fetchToken({})).resolves.toBeDefined();
    const [, secret] = Buffer.from(received.at(-1)!.authorization!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    expect(decodeURIComponent(secret!)).toBe('pässwörd-€-secret');
  });

  // Issue 9.5: a server echoing the secret in the encoding it was sent in left it in the
  // message, stack, errorDescription, JSON and inspect output.
  test('regression: a secret echoed form-encoded (as client_secret_post sends it) is scrubbed everywhere', async () => {
    const secret = "s3cr~et(1)!'x*y-z.ab_cd";
    // The value alone, as it was encoded on the wire (no `client_secret=` to recognise it by).
    handler = (body) => ({
      status: 400,
      body: JSON.stringify({
        error: 'invalid_client',
        error_description: `unknown secret ${/client_secret=([^&]+)/.exec(body)![1]}`,
      }),
    });
    const error = await clientCredentials({
      server: { issuer: base, tokenEndpoint: `${base}/token` },
      clientId: 'c',
      clientAuth: clientSecretPost(secret),
    })
      .fetchToken({})
      .catch((e: unknown) => e);
    const sent = new URLSearchParams(received.at(-1)!.body).toString();
    expect(sent).toContain(new URLSearchParams({ s: secret }).toString().slice(2)); // it went out encoded
    expect(error).toMatchObject({ error: 'invalid_client' });
    for (const form of [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ])
      expect(rendered(error)).not.toContain(form);
  });

  test('regression: the bare Basic credential echoed back (without "Basic ") is scrubbed', async () => {
    const secret = 'basic-s3cret~(1)';
    handler = () => ({
      status: 401,
      body: JSON.stringify({
        error: 'invalid_client',
        error_description: `credential ${received.at(-1)!.authorization!.replace(/^Basic /, '')} unknown`,
      }),
    });
    const error = await clientCredentials({
      server: { issuer: base, tokenEndpoint: `${base}/token` },
      clientId: 'client~1',
      clientAuth: clientSecretBasic(secret),
    })
      .fetchToken({})
      .catch((e: unknown) => e);
    const credential = received.at(-1)!.authorization!.replace(/^Basic /, '');
    expect(error).toMatchObject({
      error: 'invalid_client',
      errorDescription: expect.stringContaining('[redacted]'),
    });
    expect(rendered(error)).not.toContain(credential);
    expect(rendered(error)).not.toContain(secret);
  });

  test('a secret with no UTF-8 form (a lone surrogate) is refused at construction, naming the option', () => {
    expect(() => clientSecretBasic('abc\ud800def')).toThrow(/^clientSecret: is text that cannot be encoded/);
    expect(() => clientSecretPost('abc\udc00')).toThrow(/^clientSecret:/);
  });

  test('a hanging endpoint ended by a timeout signal (the token manager passes one per attempt) is a timeout error', async () => {
    handler = () => 'hang';
    await expect(source().fetchToken({ signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
      retryable: true,
    });
  });

  test("the caller's signal aborts the request with its own reason", async () => {
    handler = () => 'hang';
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    const aborted = source().fetchToken({ signal: controller.signal });
    await new Promise((resolve) => server.once('request', resolve)); // the request is in flight
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
  });

  test('a closed port is unreachable, without a status', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await clientCredentials({
      server: { issuer: `http://127.0.0.1:${port}`, tokenEndpoint: `http://127.0.0.1:${port}/token` },
      clientId: 'c',
      clientAuth: clientSecretPost(SECRET),
    })
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      status: undefined,
      retryable: true,
    });
    expect(rendered(error)).not.toContain(SECRET);
  });

  const oktaBody = {
    errorCode: 'E0000007',
    errorSummary: 'Not found: Resource not found: aus-missing (AuthorizationServer)',
    errorLink: 'E0000007',
    errorId: 'oae1234567890',
    errorCauses: [],
  };
  test.each<[string, Answer, Record<string, unknown>]>([
    [
      // Server data, not an option: never a ConfigError.
      'an access_token with a space in it',
      {
        status: 200,
        body: JSON.stringify({ access_token: 'abc def', token_type: 'bearer', expires_in: 60 }),
      },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, name: 'TokenEndpointError' },
    ],
    [
      'a text body on 200',
      { status: 200, body: 'ok', type: 'text/plain' },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200 },
    ],
    [
      'an HTML gateway page on 502',
      { status: 502, body: '<html>Bad Gateway</html>', type: 'text/html' },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 502, retryable: true },
    ],
    [
      'an HTML page on 200',
      { status: 200, body: '<html>login</html>', type: 'text/html' },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200, retryable: false },
    ],
    [
      'malformed JSON on 200',
      { status: 200, body: '{"access_token": "abc",' },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200 },
    ],
    [
      'malformed JSON on 400',
      { status: 400, body: '{"error": ' },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 400 },
    ],
    [
      'no access_token',
      { status: 200, body: JSON.stringify({ token_type: 'bearer', expires_in: 60 }) },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200 },
    ],
    [
      'an unknown token type',
      { status: 200, body: JSON.stringify({ access_token: 'x', token_type: 'mac' }) },
      { code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200 },
    ],
    [
      'a 401 invalid_client with a Basic challenge',
      {
        status: 401,
        body: JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed' }),
        headers: { 'WWW-Authenticate': 'Basic realm="token"' },
      },
      {
        code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
        status: 401,
        error: 'invalid_client',
        errorDescription: 'Client authentication failed',
        retryable: false,
      },
    ],
    [
      'a 400 invalid_grant',
      {
        status: 400,
        body: JSON.stringify({
          error: 'invalid_grant',
          error_description: 'The refresh token is invalid or expired.',
        }),
      },
      { code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 400, error: 'invalid_grant' },
    ],
    [
      "Okta's errorCode shape (404, unknown authorization server)",
      { status: 404, body: JSON.stringify(oktaBody) },
      // A vendor's own shape is kept as the body; the Okta preset reads it, not oauth2.
      {
        code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
        status: 404,
        error: undefined,
        body: JSON.stringify(oktaBody),
      },
    ],
    [
      '429 with Retry-After in seconds',
      {
        status: 429,
        body: JSON.stringify({
          errorCode: 'E0000047',
          errorSummary: 'API call exceeded rate limit due to too many requests.',
        }),
        headers: { 'Retry-After': '7' },
      },
      {
        code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
        status: 429,
        retryAfterMs: 7_000,
        retryable: true,
        body: expect.stringContaining('E0000047'),
      },
    ],
    [
      '503 with Retry-After as an HTTP date',
      {
        status: 503,
        body: '',
        type: 'text/plain',
        headers: { 'Retry-After': new Date(Date.now() + 3_600_000).toUTCString() },
      },
      {
        code: ErrorCodes.TOKEN_RESPONSE_INVALID,
        status: 503,
        retryable: true,
        retryAfterMs: expect.any(Number),
      },
    ],
    [
      'an echo of the secret in an error',
      {
        status: 400,
        body: JSON.stringify({
          error: 'invalid_request',
          error_description: `bad client_secret=${SECRET} (${SECRET})`,
        }),
      },
      { code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 400, error: 'invalid_request' },
    ],
  ])('%s is typed', async (_name, answer, expected) => {
    handler = () => answer;
    const error = await source()
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject(expected);
    const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs;
    if (answer.headers?.['Retry-After']?.includes('GMT')) expect(retryAfter).toBeGreaterThan(3_500_000);
    expect(rendered(error)).not.toContain(SECRET);
  });
});

describe('DPoP against oidc-provider (nonces required)', () => {
  let dpopOp: OidcProviderHandle;
  beforeAll(async () => {
    dpopOp = await startOidcProvider({
      requireDPoPNonce: true,
      clients: [
        {
          client_id: 'svc-dpop',
          client_secret: SECRET,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        },
        {
          client_id: 'spa-dpop',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [REDIRECT],
        },
      ],
    });
  });
  afterAll(() => dpopOp.close());

  const proofOf = (request: { headers: Record<string, string | string[] | undefined> }) => {
    const [header, claims] = String(request.headers.dpop)
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    return { header: header!, claims: claims! };
  };

  test('client credentials with dpop: true: a DPoP token; use_dpop_nonce answered once with the server nonce', async () => {
    const source = clientCredentials({
      server: { issuer: dpopOp.issuer, discovery: true },
      clientId: 'svc-dpop',
      clientAuth: clientSecretPost(SECRET),
      dpop: true,
    });
    expect(source.dpop).toBeDefined();
    const token = await source.fetchToken({});
    expect(token.tokenType).toBe('DPoP');
    const [refused, granted] = dpopOp.tokenRequests();
    expect(proofOf(refused!).claims.nonce).toBeUndefined();
    expect(proofOf(granted!).claims).toMatchObject({ htm: 'POST', htu: `${dpopOp.issuer}/token` });
    expect(typeof proofOf(granted!).claims.nonce).toBe('string');
    expect(proofOf(granted!).header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    expect(proofOf(granted!).header.jwk).not.toHaveProperty('d'); // the public key only
    // The nonce is remembered: the next token request needs no second try.
    const before = dpopOp.tokenRequests().length;
    await source.fetchToken({});
    expect(dpopOp.tokenRequests().length - before).toBe(1);
  });

  test('a key pair of your own signs every proof', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const pub = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const source = clientCredentials({
      server: { issuer: dpopOp.issuer, discovery: true },
      clientId: 'svc-dpop',
      clientAuth: clientSecretPost(SECRET),
      dpop: pair,
    });
    await expect(source.fetchToken({})).resolves.toMatchObject({ tokenType: 'DPoP' });
    expect(proofOf(dpopOp.tokenRequests().at(-1)!).header).toMatchObject({
      alg: 'ES384',
      jwk: { kty: 'EC', crv: 'P-384', x: pub.x, y: pub.y },
    });
    expect(() =>
      clientCredentials({
        server: direct(),
        clientId: 'svc-dpop',
        clientAuth: clientSecretPost(SECRET),
        dpop: { privateKey: pair.privateKey } as CryptoKeyPair,
      }),
    ).toThrow(expect.objectContaining({ option: 'dpop' }) as Error);
  });

  test('a Bearer answer to a DPoP proof is a typed error, not a silent downgrade (and the reverse)', async () => {
    const bearerOnly = clientCredentials({
      server: { issuer: dpopOp.issuer, tokenEndpoint: `${dpopOp.issuer}/token` },
      clientId: 'svc-dpop',
      clientAuth: clientSecretPost(SECRET),
      dpop: true,
      // A proxy that strips the DPoP header: the server then issues a Bearer token.
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        headers.delete('dpop');
        return fetch(input, { ...init, headers });
      },
    });
    await expect(bearerOnly.fetchToken({})).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_RESPONSE_INVALID,
      message: expect.stringMatching(/DPoP-bound token was asked for/) as unknown,
    });
  });

  test('authorization code with DPoP: dpop_jkt in the authorization URL, a DPoP token, a DPoP-bound refresh', async () => {
    const flow = authorizationCode({
      server: { issuer: dpopOp.issuer, discovery: true },
      clientId: 'spa-dpop',
      redirectUri: REDIRECT,
      scope: 'openid offline_access',
      storage: createMemoryStorage(),
      dpop: true,
    });
    const url = await flow.authorizationUrl({ prompt: 'consent' });
    expect(url.searchParams.get('dpop_jkt')).toMatch(/^[\w-]{43}$/);
    const token = await flow.handleRedirect(await signInHeadlessly(url));
    expect(token.tokenType).toBe('DPoP');
    const refreshed = await flow.fetchToken({ refreshToken: token.refreshToken! });
    expect(refreshed.tokenType).toBe('DPoP');
    expect(proofOf(dpopOp.tokenRequests().at(-1)!).claims).toMatchObject({ htm: 'POST' });
  });
});
