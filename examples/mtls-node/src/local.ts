// The example's local run: oidc-provider over TLS on 127.0.0.1 with RFC 8705 on (its
// mTLS listener published as mtls_endpoint_aliases), an API that checks certificate-bound
// tokens, and a throwaway PKI made with openssl. The client certificate is renewed on
// disk half way through.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_SAN, createTestPki, startBoundResourceServer, startOidcProvider } from '@authrail/test-utils';
import { mtlsApi } from './mtls-api.js';

const RESOURCE = 'https://orders.example.test/';

/** What the local run saw, for its test. */
export interface LocalRun {
  /** The thumbprint the API saw on each answered call, before and after the renewal. */
  thumbprints: string[];
  /** The client certificate's thumbprint before and after. */
  certificates: [string, string];
  /** Token requests the server received (2: one per certificate). */
  tokenRequests: number;
  /** The API's answers in order: 200, then the old token refused once, then 200. */
  apiAnswers: string[];
}

export async function runLocal(log: (line: string) => void): Promise<LocalRun> {
  const pki = createTestPki();
  const provider = await startOidcProvider({
    tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert },
    resourceServers: { [RESOURCE]: { scope: 'orders:read' } },
    clients: [
      {
        client_id: 'orders-service',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_dns: CLIENT_SAN,
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
  });
  const orders = await startBoundResourceServer({
    tls: pki.server,
    jwks: provider.jwks!,
    issuer: provider.issuer,
    audience: RESOURCE,
  });
  // The files a deployment mounts (a Kubernetes secret, cert-manager's output).
  const certFile = join(pki.dir, 'tls.crt');
  const keyFile = join(pki.dir, 'tls.key');
  copyFileSync(pki.client.certFile, certFile);
  copyFileSync(pki.client.keyFile, keyFile);
  const { api, tls } = mtlsApi({
    issuer: provider.issuer,
    clientId: 'orders-service',
    method: 'tls_client_auth',
    cert: certFile,
    key: keyFile,
    ca: pki.ca.certFile,
    apiOrigin: orders.url,
    resource: RESOURCE,
    recheckMs: 0, // read the files' stat before every request, so the renewal shows at once
  });
  try {
    const thumbprints: string[] = [];
    const call = async () => {
      const response = await api(`${orders.url}/orders`);
      const body = (await response.json()) as { thumbprint: string };
      thumbprints.push(body.thumbprint);
      log(`GET /orders → ${response.status}, over the certificate ${body.thumbprint}`);
    };
    const before = (await tls.certificate()).thumbprint;
    log(`client certificate ${before} (${CLIENT_SAN})`);
    await call();
    writeFileSync(keyFile, pki.clientRenewed.key);
    writeFileSync(certFile, pki.clientRenewed.cert);
    const after = (await tls.certificate()).thumbprint;
    log(`renewed on disk: ${after}`);
    await call();
    const apiAnswers = orders.seen.map((s) => s.reason);
    log(`the API answered: ${apiAnswers.join(', ')}`);
    return {
      thumbprints,
      certificates: [before, after],
      tokenRequests: provider.tokenRequests().length,
      apiAnswers,
    };
  } finally {
    await tls.close();
    await orders.close();
    await provider.close();
    pki.remove();
  }
}
