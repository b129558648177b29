// The example's local run: the sandbox in TLS mode with mutual TLS on, Okta knowing this
// service as a tls_client_auth client, its CTRP API checking certificate-bound tokens,
// and a throwaway PKI made with openssl. The client certificate is renewed on disk half
// way through.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '@authrail/sandbox';
import { CLIENT_SAN, createTestPki } from '@authrail/test-utils';
import { mtlsApi } from './mtls-api.js';

const CLIENT_ID = 'ctrp-mtls-service';
const SUMMARY = '/ctrp/accrual-services/trials/nci/NCI-2024-00001/sites/po/1234';

/** What the local run saw, for its test. */
export interface LocalRun {
  /** The client certificate the API saw on each call it answered 200, before and after the renewal. */
  thumbprints: string[];
  /** The client certificate's thumbprint before and after. */
  certificates: [string, string];
  /** Token requests the sandbox received (2: one per certificate). */
  tokenRequests: number;
  /** The API's answers in order: 200, then the old token refused once, then 200. */
  apiAnswers: number[];
}

export async function runLocal(log: (line: string) => void): Promise<LocalRun> {
  const pki = createTestPki();
  const sandbox = await startSandbox({
    tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert },
    clients: [
      { service: 'okta', clientId: CLIENT_ID, tlsClientAuthSanDns: CLIENT_SAN, scopes: ['ctrp.read'] },
    ],
  });
  // The files a deployment mounts (a Kubernetes secret, cert-manager's output).
  const certFile = join(pki.dir, 'tls.crt');
  const keyFile = join(pki.dir, 'tls.key');
  copyFileSync(pki.client.certFile, certFile);
  copyFileSync(pki.client.keyFile, keyFile);
  const { api, tls } = mtlsApi({
    issuer: sandbox.urls.okta.issuer,
    clientId: CLIENT_ID,
    method: 'tls_client_auth',
    cert: certFile,
    key: keyFile,
    ca: pki.ca.certFile,
    apiOrigin: sandbox.url,
    scope: 'ctrp.read',
    recheckMs: 0, // read the files' stat before every request, so the renewal shows at once
  });
  try {
    const call = async () => {
      const response = await api(`${sandbox.url}${SUMMARY}`);
      await response.text();
      const seen = sandbox.resourceRequests().at(-1)?.clientCertificate;
      log(`GET accrual summary → ${response.status}, over the certificate ${seen}`);
    };
    const before = (await tls.certificate()).thumbprint;
    log(`client certificate ${before} (${CLIENT_SAN})`);
    await call();
    writeFileSync(keyFile, pki.clientRenewed.key);
    writeFileSync(certFile, pki.clientRenewed.cert);
    const after = (await tls.certificate()).thumbprint;
    log(`renewed on disk: ${after}`);
    await call();
    const answered = sandbox.resourceRequests();
    const apiAnswers = answered.map((r) => r.status);
    log(`the API answered: ${apiAnswers.join(', ')}`);
    return {
      thumbprints: answered.filter((r) => r.status === 200).map((r) => r.clientCertificate ?? ''),
      certificates: [before, after],
      tokenRequests: sandbox.tokenRequests({ clientId: CLIENT_ID }).length,
      apiAnswers,
    };
  } finally {
    await tls.close();
    await sandbox.close();
    pki.remove();
  }
}
