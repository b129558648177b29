// The generic grants against oidc-provider, a standards-true authorization server
// started inside the tests. Assertions on client authentication read the request the
// server actually received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, isTokenEndpointError } from '@authrail/core';
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
const REDIRECT = 'http://127.0.0.1:8765/callback';
let op: OidcProviderHandle;
let signingKey: CryptoKey;

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
  op = await startOidcProvider({
    clients: [
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
    expect(seen.map((u) => new URL(u).pathname)).toEqual([
      '/.well-known/oauth-authorization-server',
      '/token',
    ]);
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
    expect(() =>
      clientCredentials({
        server: direct(),
        clientId: 'x',
        clientAuth: clientSecretPost(SECRET),
        timeoutMs: 0,
      }),
    ).toThrow(/^timeoutMs:/);
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
  let server: Server;
  let base: string;
  let handler: (body: string) => { status: number; body: string; type?: string } | 'hang';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const answer = handler(body);
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'Content-Type': answer.type ?? 'application/json' });
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
  const source = (timeoutMs?: number) =>
    clientCredentials({
      server: { issuer: base, tokenEndpoint: `${base}/token` },
      clientId: 'c',
      clientAuth: clientSecretPost(SECRET),
      ...(timeoutMs ? { timeoutMs } : {}),
    });

  test('a refresh answer without refresh_token keeps the old one', async () => {
    handler = () => ({
      status: 200,
      body: JSON.stringify({ access_token: 'new-access', token_type: 'bearer', expires_in: 60 }),
    });
    const token = await source().fetchToken({ refreshToken: 'old-refresh-token' });
    expect(token.refreshToken).toBe('old-refresh-token');
    expect(token.tokenType).toBe('Bearer');
  });

  test('a hanging endpoint becomes a timeout error', async () => {
    handler = () => 'hang';
    await expect(source(100).fetchToken({})).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
    });
  });

  test("the caller's signal aborts the request with its own reason", async () => {
    handler = () => 'hang';
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 20);
    await expect(source().fetchToken({ signal: controller.signal })).rejects.toBe(reason);
  });

  test.each([
    [
      'a text body on 200',
      { status: 200, body: 'ok', type: 'text/plain' },
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      200,
    ],
    [
      'an HTML page on 503',
      { status: 503, body: '<html>down</html>', type: 'text/html' },
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      503,
    ],
    [
      'an unknown token type',
      { status: 200, body: JSON.stringify({ access_token: 'x', token_type: 'mac' }) },
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      200,
    ],
    [
      'an echo of the secret in an error',
      {
        status: 400,
        body: JSON.stringify({ error: 'invalid_request', error_description: `bad client_secret=${SECRET}` }),
      },
      ErrorCodes.TOKEN_ENDPOINT_ERROR,
      400,
    ],
  ])('%s is typed', async (_name, answer, code, status) => {
    handler = () => answer;
    const error = await source()
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code, status });
    expect(
      [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })].join('\n'),
    ).not.toContain(SECRET);
  });
});
