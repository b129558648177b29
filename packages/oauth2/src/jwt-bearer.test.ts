// Workload identity (RFC 7523) against oidc-provider: the JWT bearer grant with an
// assertion read from a file that something else rotates (a Kubernetes projected
// service-account token), and the same file as a client assertion.
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, createAuthStrategy, isTokenEndpointError } from '@authrail/core';
import {
  assertionFromFile,
  clientAssertion,
  clientCredentials,
  jwtBearer,
  type JwtBearerOptions,
} from '@authrail/oauth2';
import {
  createJwtIssuer,
  startOidcProvider,
  type JwtIssuer,
  type OidcProviderHandle,
} from '@authrail/test-utils';

const DOWNSTREAM = 'https://downstream.example/';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SERVICE_ACCOUNT = 'system:serviceaccount:shop:orders';

let op: OidcProviderHandle;
/** The cluster's service-account issuer: the authorization server trusts it for the grant. */
let cluster: JwtIssuer;
/** The key of the federated client: its assertions authenticate client `federated`. */
let federated: JwtIssuer;
let dir: string;

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
const seconds = (fromNow: number) => Math.floor(Date.now() / 1000) + fromNow;

beforeAll(async () => {
  cluster = await createJwtIssuer('https://kubernetes.default.svc.cluster.local');
  federated = await createJwtIssuer('federated');
  op = await startOidcProvider({
    clients: [
      {
        client_id: 'workload',
        token_endpoint_auth_method: 'none',
        grant_types: [JWT_BEARER],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'federated',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [federated.publicJwk] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    resourceServers: { [DOWNSTREAM]: { scope: 'orders:read' } },
    jwtBearer: cluster,
  });
  dir = await mkdtemp(join(tmpdir(), 'authrail-sa-'));
});

afterAll(async () => {
  await op?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A projected service-account token, as kubelet writes it (with a trailing newline). */
const serviceAccountToken = (exp = seconds(600), extra: Record<string, unknown> = {}) =>
  cluster.sign({ sub: SERVICE_ACCOUNT, aud: op.issuer, exp, ...extra });

function workload(path: string, overrides: Partial<JwtBearerOptions> = {}) {
  return jwtBearer({
    server: { issuer: op.issuer, discovery: true },
    clientId: 'workload',
    assertion: assertionFromFile(path),
    resource: DOWNSTREAM,
    ...overrides,
  });
}

const grants = () => op.tokenRequests().filter((r) => r.form.get('grant_type') === JWT_BEARER);

describe('jwtBearer with assertionFromFile', () => {
  test('trades the file’s assertion for an access token whose sub is the service account', async () => {
    const path = join(dir, 'happy');
    const assertion = await serviceAccountToken();
    await writeFile(path, `${assertion}\n`);
    const before = grants().length;
    const token = await workload(path, { scope: 'orders:read' }).fetchToken({});
    expect(claimsOf(token.accessToken)).toMatchObject({
      sub: SERVICE_ACCOUNT,
      aud: DOWNSTREAM,
      client_id: 'workload',
      scope: 'orders:read',
    });
    const sent = grants().slice(before);
    expect(sent).toHaveLength(1);
    expect(Object.fromEntries(sent[0]!.form)).toEqual({
      grant_type: JWT_BEARER,
      assertion, // trimmed of kubelet's newline
      resource: DOWNSTREAM,
      scope: 'orders:read',
      client_id: 'workload',
    });
  });

  test('a rotated file: the next token request sends the new assertion', async () => {
    const path = join(dir, 'rotated');
    const first = await serviceAccountToken(seconds(600), { jti: 'first' });
    await writeFile(path, first);
    const strategy = createAuthStrategy({ source: workload(path), origins: ['https://downstream.example'] });
    await strategy.tokens.getToken();
    const second = await serviceAccountToken(seconds(900), { jti: 'second' });
    await writeFile(path, second);
    await strategy.tokens.clear();
    await strategy.tokens.getToken();
    expect(
      grants()
        .slice(-2)
        .map((r) => r.form.get('assertion')),
    ).toEqual([first, second]);
  });

  test('a file that is missing, holds no JWT, or holds an expired assertion: typed errors naming the path, never the content', async () => {
    const missing = join(dir, 'missing');
    const garbage = join(dir, 'garbage');
    const expired = join(dir, 'expired');
    await writeFile(garbage, 'not-a-jwt-but-a-secret-value');
    const old = await serviceAccountToken(seconds(-30));
    await writeFile(expired, old);
    const before = op.tokenRequests().length;
    for (const [path, why, content] of [
      [missing, /cannot be read \(ENOENT\)/, undefined],
      [garbage, /holds no JWT/, 'not-a-jwt-but-a-secret-value'],
      [expired, /holds an assertion that expired at/, old],
    ] as const) {
      const error = await workload(path)
        .fetchToken({})
        .catch((e: unknown) => e);
      expect(isTokenEndpointError(error), path).toBe(true);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toMatch(why);
      expect((error as { code: string }).code).toBe(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE);
      if (content) expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain(content);
    }
    expect(op.tokenRequests().length).toBe(before); // nothing was sent
  });

  test('the server refusing the assertion is a TokenEndpointError with the assertion scrubbed', async () => {
    const path = join(dir, 'wrong-aud');
    const assertion = await cluster.sign({
      sub: SERVICE_ACCOUNT,
      aud: 'https://elsewhere.example',
      exp: seconds(600),
    });
    await writeFile(path, assertion);
    // A server that echoes what it was sent in its error: nothing of it may reach the error.
    const echoing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.ok) return response;
      const sent = new URLSearchParams(String(init?.body)).get('assertion');
      return Response.json(
        { error: 'invalid_grant', error_description: `bad assertion ${sent}` },
        { status: 400 },
      );
    };
    const error = await workload(path, { fetch: echoing })
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_grant');
    expect(isTokenEndpointError(error) && error.errorDescription).toMatch(/^bad assertion /);
    expect(
      [String(error), JSON.stringify(error), inspect(error, { showHidden: true, depth: 10 })].join('\n'),
    ).not.toContain(assertion.split('.')[2]);
  });

  test('options are checked at construction: a literal assertion is never quoted', () => {
    const literal = 'this-is-a-secret-not-a-jwt';
    const cases: [() => unknown, string][] = [
      [() => workload(join(dir, 'x'), { assertion: literal }), 'assertion'],
      [() => workload(join(dir, 'x'), { assertion: 42 as never }), 'assertion'],
      [() => workload(join(dir, 'x'), { parameters: { assertion: 'x' } }), 'parameters'],
      [() => workload(join(dir, 'x'), { scpe: 'a' } as never), 'scpe'],
      [() => assertionFromFile(''), 'path'],
      [() => assertionFromFile('/x', { expiryMarginMs: -1 }), 'expiryMarginMs'],
      [() => assertionFromFile('/x', { margin: 1 } as never), 'margin'],
      [() => clientAssertion(literal), 'clientAssertion'],
    ];
    for (const [make, option] of cases) {
      const error = (() => {
        try {
          make();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, option).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe(option);
      expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain(literal);
    }
  });
});

describe('assertionFromFile', () => {
  /** Writes `text` (of the same length as before, if any) with a fixed mtime: `stat` cannot tell two such writes apart. */
  async function writeUnseen(path: string, text: string): Promise<void> {
    const size = await stat(path).then(
      (s) => s.size,
      () => text.length,
    );
    expect(text.length).toBe(size);
    await writeFile(path, text);
    const fixed = new Date('2026-01-01T00:00:00Z');
    await utimes(path, fixed, fixed);
  }

  test('an unchanged file is read once; an assertion near its exp is read again even when the file looks unchanged', async () => {
    const path = join(dir, 'near-exp');
    // Same length: only the exp differs, and by digits that keep the length.
    const far = await serviceAccountToken(seconds(3000), { jti: 'a' });
    const near = await serviceAccountToken(seconds(30), { jti: 'a' });
    const next = await serviceAccountToken(seconds(3600), { jti: 'b' });
    const read = assertionFromFile(path); // margin 60 s
    await writeUnseen(path, far);
    expect(await read()).toBe(far);
    await writeUnseen(path, next);
    expect(await read()).toBe(far); // unchanged to stat, far from exp: the held one
    await writeFile(path, near);
    expect(await read()).toBe(near); // changed (mtime now): read
    await writeUnseen(path, near);
    expect(await read()).toBe(near); // changed (mtime back): read
    await writeUnseen(path, next);
    expect(await read()).toBe(next); // unchanged to stat, but near exp: read again
  });

  test('an assertion held past its exp is never returned, even from an unchanged file', async () => {
    const path = join(dir, 'lapsed');
    await writeFile(path, await serviceAccountToken(seconds(2)));
    const read = assertionFromFile(path, { expiryMarginMs: 0 });
    await read();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expect(read()).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
      message: expect.stringMatching(/expired at/),
    });
  });
});

describe('clientAssertion (a federated credential from a file)', () => {
  test('client credentials authenticated by the file’s assertion; a rotated file is used on the next request', async () => {
    const path = join(dir, 'client-assertion');
    const tokenEndpoint = `${op.issuer}/token`;
    const mint = (jti: string) =>
      federated.sign({ iss: 'federated', sub: 'federated', aud: tokenEndpoint, jti, exp: seconds(300) });
    const first = await mint('one');
    await writeFile(path, first);
    const source = clientCredentials({
      server: { issuer: op.issuer, discovery: true },
      clientId: 'federated',
      clientAuth: clientAssertion(assertionFromFile(path)),
    });
    await source.fetchToken({});
    const second = await mint('two');
    await writeFile(path, second);
    await source.fetchToken({});
    const sent = op
      .tokenRequests()
      .filter((r) => r.form.get('client_id') === 'federated')
      .map((r) => Object.fromEntries(r.form));
    expect(sent.slice(-2)).toEqual([
      expect.objectContaining({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: first,
      }),
      expect.objectContaining({ client_assertion: second }),
    ]);
  });

  test('a refused client assertion: the file is read once more, and the error holds no assertion', async () => {
    const path = join(dir, 'client-assertion-refused');
    // Signed by the cluster key, which client `federated` does not have.
    const foreign = await cluster.sign({
      iss: 'federated',
      sub: 'federated',
      aud: op.issuer,
      jti: 'x',
      exp: seconds(300),
    });
    await writeFile(path, foreign);
    const before = op.tokenRequests().length;
    const error = await clientCredentials({
      server: { issuer: op.issuer, discovery: true },
      clientId: 'federated',
      clientAuth: clientAssertion(assertionFromFile(path)),
    })
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_client');
    expect(op.tokenRequests().length - before).toBe(2); // read again after invalid_client
    expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain(foreign.split('.')[2]);
  });
});
