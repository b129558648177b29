// RFC 8705 client authentication as the grants send it: which endpoint (the mTLS alias
// for certificate-authenticated clients only), what the body carries, and a published
// alias that is not https refused. TLS itself is tested in @authrail/node (mtls.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { ErrorCodes, isTokenEndpointError } from '@authrail/core';
import { clientCredentials, clientSecretPost, selfSignedTlsClientAuth, tlsClientAuth } from './index.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A metadata document with mTLS aliases, and a token endpoint on every path that records what it got. */
async function authorizationServer(alias: (base: string) => string) {
  const seen: { path: string; body: string }[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/metadata') {
        res.end(
          JSON.stringify({
            issuer: base,
            token_endpoint: `${base}/token`,
            mtls_endpoint_aliases: { token_endpoint: alias(base) },
          }),
        );
        return;
      }
      seen.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString() });
      res.end(JSON.stringify({ access_token: 'at-1', token_type: 'Bearer', expires_in: 60 }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { metadataUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`, seen };
}

test('tls_client_auth and self_signed_tls_client_auth: to the mTLS alias, the client id and no secret', async () => {
  const as = await authorizationServer((base) => `${base}/mtls/token`);
  for (const clientAuth of [tlsClientAuth(), selfSignedTlsClientAuth()]) {
    const source = clientCredentials({
      server: { metadataUrl: as.metadataUrl },
      clientId: 'orders',
      clientAuth,
    });
    await source.fetchToken({});
  }
  const secret = clientCredentials({
    server: { metadataUrl: as.metadataUrl },
    clientId: 'orders',
    clientAuth: clientSecretPost('s3cret'),
  });
  await secret.fetchToken({});
  expect(
    as.seen.map((r) => [r.path, new URLSearchParams(r.body).get('client_id'), r.body.includes('secret')]),
  ).toEqual([
    ['/mtls/token', 'orders', false],
    ['/mtls/token', 'orders', false],
    ['/token', 'orders', true], // a secret-authenticated client keeps the ordinary endpoint
  ]);
});

test('an mTLS alias that is not https (off loopback) is refused before anything is sent there', async () => {
  const as = await authorizationServer(() => 'http://tokens.example.org/token');
  const source = clientCredentials({
    server: { metadataUrl: as.metadataUrl },
    clientId: 'orders',
    clientAuth: tlsClientAuth(),
  });
  const error: unknown = await source.fetchToken({}).catch((e: unknown) => e);
  expect(isTokenEndpointError(error) && error.code).toBe(ErrorCodes.TOKEN_RESPONSE_INVALID);
  expect((error as Error).message).toContain('mtls_endpoint_aliases.token_endpoint');
  expect(as.seen).toEqual([]);
});
