// Mutual TLS (RFC 8705) over real TLS on 127.0.0.1: oidc-provider with tls_client_auth and
// self_signed_tls_client_auth on a second listener (its mtls_endpoint_aliases), a
// resource server that checks cnf["x5t#S256"] against the certificate on the connection,
// and the client certificate rotated on disk while the process runs.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ConfigError,
  ErrorCodes,
  createAuthStrategy,
  isTokenEndpointError,
  type TokenAuthStrategy,
} from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import {
  clientCredentials,
  selfSignedTlsClientAuth,
  tlsClientAuth,
  type ClientAuthentication,
} from '@authrail/oauth2';
import {
  CLIENT_SAN,
  createTestPki,
  jwkOfCertificate,
  runChild,
  startBoundResourceServer,
  startOidcProvider,
  type BoundResourceServer,
  type OidcProviderHandle,
  type TestPki,
} from '@authrail/test-utils';
import { ClientCertificateError, createMtlsFetch, type MtlsFetch } from './index.js';
import type { MtlsChildReport } from '../test/mtls-child.js';

const API = 'https://api.authrail.test/';
let pki: TestPki;
let provider: OidcProviderHandle;
let api: BoundResourceServer;
const opened: MtlsFetch[] = [];

beforeAll(async () => {
  pki = createTestPki();
  const common = {
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
  provider = await startOidcProvider({
    tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert },
    resourceServers: { [API]: { scope: 'api:read' } },
    clients: [
      {
        ...common,
        client_id: 'pki-client',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_dns: CLIENT_SAN,
      },
      {
        ...common,
        client_id: 'self-client',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [jwkOfCertificate(pki.selfSigned.cert)] },
      },
    ],
  });
  api = await startBoundResourceServer({
    tls: pki.server,
    jwks: provider.jwks!,
    issuer: provider.issuer,
    audience: API,
  });
}, 30_000);

afterAll(async () => {
  await Promise.all(opened.map((f) => f.close()));
  await api?.close();
  await provider?.close();
  pki?.remove();
});

function mtls(options: Parameters<typeof createMtlsFetch>[0]): MtlsFetch {
  const f = createMtlsFetch(options);
  opened.push(f);
  return f;
}

function strategyFor(
  clientId: string,
  clientAuth: ClientAuthentication,
  fetch: typeof globalThis.fetch,
): TokenAuthStrategy {
  return createAuthStrategy({
    source: clientCredentials({
      server: { issuer: provider.issuer, discovery: true },
      clientId,
      clientAuth,
      resource: API,
      fetch,
    }),
    origins: [api.url],
    retry: { maxAttempts: 1 },
  });
}

const claimsOf = (accessToken: string) =>
  JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as {
    cnf?: Record<string, string>;
  };

describe('client authentication with a certificate', () => {
  test('tls_client_auth: a token bound to the CA-signed certificate, asked for at the mTLS alias', async () => {
    const tls = mtls({ cert: pki.client.certFile, key: pki.client.keyFile, ca: pki.ca.certFile });
    const before = provider.tokenRequests().length;
    const token = await strategyFor('pki-client', tlsClientAuth(), tls).tokens.getToken();
    expect(claimsOf(token.accessToken).cnf).toEqual({ 'x5t#S256': pki.client.thumbprint });
    const sent = provider.tokenRequests().slice(before);
    expect(sent.map((r) => [r.headers.host, r.form.get('client_id'), r.form.has('client_secret')])).toEqual([
      [new URL(provider.mtlsBase!).host, 'pki-client', false],
    ]);
  });

  test('self_signed_tls_client_auth: a token bound to the registered self-signed certificate', async () => {
    const tls = mtls({ cert: pki.selfSigned.cert, key: pki.selfSigned.key, ca: pki.ca.cert });
    const token = await strategyFor('self-client', selfSignedTlsClientAuth(), tls).tokens.getToken();
    expect(claimsOf(token.accessToken).cnf).toEqual({ 'x5t#S256': pki.selfSigned.thumbprint });
  });

  test('no client certificate, or one not registered: a typed invalid_client error, nothing secret in it', async () => {
    const agent = new Agent({ connect: { ca: pki.ca.cert } });
    const noCert = ((url: string | URL | Request, init?: RequestInit) =>
      fetch(url, { ...init, dispatcher: agent } as RequestInit)) as typeof fetch;
    const stranger = mtls({ cert: pki.stranger.certFile, key: pki.stranger.keyFile, ca: pki.ca.cert });
    try {
      for (const [clientId, auth, f] of [
        ['pki-client', tlsClientAuth(), noCert],
        ['self-client', selfSignedTlsClientAuth(), stranger],
        ['pki-client', tlsClientAuth(), stranger], // self-signed: not from the CA
      ] as const) {
        const error: unknown = await strategyFor(clientId, auth, f)
          .tokens.getToken()
          .catch((e: unknown) => e);
        expect(isTokenEndpointError(error) && [error.error, error.status]).toEqual(['invalid_client', 401]);
        const shown = `${inspect(error, { depth: 5 })} ${String(error)}`;
        expect(shown).not.toContain(pki.stranger.key.split('\n')[1]);
      }
    } finally {
      await agent.close();
    }
  });
  test('a server certificate from a CA not given as ca: TOKEN_ENDPOINT_UNREACHABLE, saying why', async () => {
    const tls = mtls({ cert: pki.client.certFile, key: pki.client.keyFile });
    const error: unknown = await strategyFor('pki-client', tlsClientAuth(), tls)
      .tokens.getToken()
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.code).toBe(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE);
    expect((error as Error).message).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('certificate-bound access tokens at a resource server', () => {
  test('accepted over the same certificate, refused over another', async () => {
    const tls = mtls({ cert: pki.client.certFile, key: pki.client.keyFile, ca: pki.ca.certFile });
    const strategy = strategyFor('pki-client', tlsClientAuth(), tls);
    const response = await createAuthFetch(strategy, { fetch: tls })(`${api.url}/orders`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, thumbprint: pki.client.thumbprint });

    const token = await strategy.tokens.getToken();
    const other = mtls({ cert: pki.stranger.cert, key: pki.stranger.key, ca: pki.ca.cert });
    const refused = await other(`${api.url}/orders`, {
      headers: { authorization: `Bearer ${token.accessToken}` },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('certificate thumbprint mismatch');
  });
});

describe('rotation without a restart', () => {
  test('new files: a new connection, the bound token refused once, a new token over the new certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authrail-rotate-'));
    try {
      const certFile = join(dir, 'tls.crt');
      const keyFile = join(dir, 'tls.key');
      copyFileSync(pki.client.certFile, certFile);
      copyFileSync(pki.client.keyFile, keyFile);
      const tls = mtls({ cert: certFile, key: keyFile, ca: pki.ca.certFile, recheckMs: 0 });
      const strategy = strategyFor('pki-client', tlsClientAuth(), tls);
      const call = createAuthFetch(strategy, { fetch: tls });
      const tokensBefore = provider.tokenRequests().length;
      const seenBefore = api.seen.length;

      expect((await call(`${api.url}/orders`)).status).toBe(200);
      writeFileSync(keyFile, pki.clientRenewed.key);
      writeFileSync(certFile, pki.clientRenewed.cert);
      const after = await call(`${api.url}/orders`);

      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ ok: true, thumbprint: pki.clientRenewed.thumbprint });
      expect((await tls.certificate()).thumbprint).toBe(pki.clientRenewed.thumbprint);
      // The old token, bound to the old certificate, was refused once; one new token, then the replay.
      expect(api.seen.slice(seenBefore).map((s) => s.reason)).toEqual([
        'ok',
        'certificate thumbprint mismatch',
        'ok',
      ]);
      expect(provider.tokenRequests().length - tokensBefore).toBe(2);
      expect(claimsOf((await strategy.tokens.getToken()).accessToken).cnf).toEqual({
        'x5t#S256': pki.clientRenewed.thumbprint,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a rotation caught half written (new certificate, old key): the certificate in use stays, onError is told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authrail-rotate-'));
    try {
      const certFile = join(dir, 'tls.crt');
      const keyFile = join(dir, 'tls.key');
      copyFileSync(pki.client.certFile, certFile);
      copyFileSync(pki.client.keyFile, keyFile);
      const errors: ClientCertificateError[] = [];
      const tls = mtls({
        cert: certFile,
        key: keyFile,
        ca: pki.ca.certFile,
        recheckMs: 0,
        onError: (e) => errors.push(e),
      });
      expect((await tls.certificate()).thumbprint).toBe(pki.client.thumbprint);
      writeFileSync(certFile, pki.clientRenewed.cert);

      const response = await tls(`${api.url}/orders`); // no token: a 401, but over TLS with the old certificate
      expect(response.status).toBe(401);
      expect((await tls.certificate()).thumbprint).toBe(pki.client.thumbprint);
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors.map((e) => `${e.name} ${e.part}`))).toEqual(
        new Set(['ClientCertificateError key']),
      );
      expect(`${inspect(errors[0], { depth: 5 })}`).not.toContain(pki.client.key.split('\n')[1]);

      writeFileSync(keyFile, pki.clientRenewed.key);
      expect((await tls.reload()).thumbprint).toBe(pki.clientRenewed.thumbprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a handshake the server refuses: the files are read again at once, not after recheckMs', async () => {
    const strict = createHttpsServer(
      {
        key: pki.server.key,
        cert: pki.server.cert,
        ca: pki.ca.cert,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (_req, res) => res.end('ok'),
    );
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(strict.address() as AddressInfo).port}/`;
    const dir = mkdtempSync(join(tmpdir(), 'authrail-rotate-'));
    try {
      const certFile = join(dir, 'tls.crt');
      const keyFile = join(dir, 'tls.key');
      copyFileSync(pki.stranger.certFile, certFile); // expired or not trusted: refused in the handshake
      copyFileSync(pki.stranger.keyFile, keyFile);
      const tls = mtls({ cert: certFile, key: keyFile, ca: pki.ca.certFile, recheckMs: 3_600_000 });
      await expect(tls(url)).rejects.toThrow();
      writeFileSync(keyFile, pki.client.key);
      writeFileSync(certFile, pki.client.cert);
      const response = await tls(url);
      expect([response.status, await response.text()]).toEqual([200, 'ok']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      strict.closeAllConnections();
      await new Promise<void>((resolve) => strict.close(() => resolve()));
    }
  });

  test('a certificate function is read again; the same PEM keeps the same connection pool', async () => {
    let current = pki.selfSigned;
    let reads = 0;
    const tls = mtls({
      cert: () => {
        reads += 1;
        return current.cert;
      },
      key: () => current.key,
      ca: pki.ca.cert,
      recheckMs: 0,
    });
    expect((await tls.certificate()).thumbprint).toBe(pki.selfSigned.thumbprint);
    expect((await tls.certificate()).thumbprint).toBe(pki.selfSigned.thumbprint);
    current = pki.stranger;
    expect((await tls.certificate()).thumbprint).toBe(pki.stranger.thumbprint);
    expect(reads).toBe(3);
  });
});

describe('options, errors and cleanup', () => {
  test('options are checked at construction, naming the option', () => {
    const cases: [unknown, string][] = [
      [{ cert: pki.client.cert, key: pki.client.key, recheck: 1 }, 'recheck'],
      [{ key: pki.client.key }, 'cert'],
      [{ cert: 42, key: pki.client.key }, 'cert'],
      [{ cert: pki.client.cert, key: '' }, 'key'],
      [{ cert: pki.client.cert, key: pki.client.key, recheckMs: -1 }, 'recheckMs'],
      [{ cert: pki.client.cert, key: pki.client.key, onError: 'log' }, 'onError'],
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        createMtlsFetch(options as Parameters<typeof createMtlsFetch>[0]);
      } catch (e) {
        error = e;
      }
      expect(error instanceof ConfigError && error.option).toBe(option);
    }
  });

  test('a key that does not match, or a missing file: ClientCertificateError, no key material in it', async () => {
    const mismatched = mtls({ cert: pki.client.cert, key: pki.stranger.key });
    const missing = mtls({ cert: join(pki.dir, 'nope.crt'), key: pki.client.keyFile });
    for (const [f, part] of [
      [mismatched, 'key'],
      [missing, 'cert'],
    ] as const) {
      const error: unknown = await f('https://127.0.0.1:1/').catch((e: unknown) => e);
      expect(error instanceof ClientCertificateError && [error.code, error.part]).toEqual([
        'AUTHRAIL_CLIENT_CERTIFICATE',
        part,
      ]);
      const shown = `${inspect(error, { depth: 5 })} ${inspect(f, { depth: 5, showHidden: true })}`;
      for (const key of [pki.client.key, pki.stranger.key]) expect(shown).not.toContain(key.split('\n')[1]);
    }
  });

  test('after close() the fetch rejects; an unclosed one does not keep its process alive', async () => {
    const tls = createMtlsFetch({ cert: pki.client.cert, key: pki.client.key, ca: pki.ca.cert });
    expect((await tls(`${api.url}/health`)).status).toBe(401);
    await tls.close();
    await expect(tls(`${api.url}/health`)).rejects.toBeInstanceOf(ClientCertificateError);

    const child = fileURLToPath(new URL('../test/mtls-child.ts', import.meta.url));
    const run = await runChild<MtlsChildReport>(child, [
      `${api.url}/health`,
      pki.client.certFile,
      pki.client.keyFile,
      pki.ca.certFile,
    ]);
    expect(run.report).toEqual({ status: 401, thumbprint: pki.client.thumbprint });
    expect(run.exitedByItself).toBe(true);
  }, 30_000);
});
