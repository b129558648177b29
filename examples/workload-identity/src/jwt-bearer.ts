// The JWT bearer grant (RFC 7523 §2.1): the platform's service-account token is traded for
// an access token. Runs against the embedded sandbox (whose Okta server trusts the demo
// workload issuer) unless OAUTH_ISSUER, CLIENT_ID, ASSERTION_FILE and API_URL are set (e.g.
// in a pod whose projected token's issuer your authorization server trusts), with SCOPE.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { rotateServiceAccountToken } from './platform.js';
import { federatedFetch, type FederatedConfig } from './workload.js';

const env = process.env;
const real = env.OAUTH_ISSUER && env.CLIENT_ID && env.ASSERTION_FILE && env.API_URL;
const sandbox = real ? undefined : await startSandbox();
const dir = real ? undefined : await mkdtemp(join(tmpdir(), 'authrail-federated-'));

const apiUrl = real ? env.API_URL! : sandbox!.urls.echo;
const config: FederatedConfig = real
  ? {
      issuer: env.OAUTH_ISSUER!,
      clientId: env.CLIENT_ID!,
      assertionFile: env.ASSERTION_FILE!,
      scope: env.SCOPE ?? '',
      apiOrigin: new URL(env.API_URL!).origin,
    }
  : {
      issuer: sandbox!.urls.okta.issuer,
      clientId: demoClients.oktaWorkload.clientId,
      assertionFile: join(dir!, 'token'),
      scope: 'ctrp.read',
      apiOrigin: sandbox!.url,
    };

try {
  console.log(
    `workload ${config.clientId}, service-account token ${config.assertionFile} (${real ? 'real' : 'sandbox'})`,
  );
  // The platform's first write: a token for this authorization server.
  if (!real) await rotateServiceAccountToken(config.assertionFile, config.issuer);
  const { api, strategy } = federatedFetch(config, {
    tokenFetched: () => console.log('  token fetched with the service-account token from the file'),
  });
  const read = async () => {
    const response = await api(apiUrl);
    console.log(`  GET ${new URL(apiUrl).pathname}: ${response.status}`);
    await response.body?.cancel();
  };
  await read();
  await read(); // the same token
  if (!real) {
    await rotateServiceAccountToken(config.assertionFile, config.issuer); // kubelet rotates the file
    console.log('  the platform replaced the token file; the access token expires (cleared here)');
  }
  await strategy.tokens.clear();
  await read(); // a new token request: with the new service-account token
  if (sandbox) {
    const subjects = sandbox.tokenRequests({ service: 'okta' }).map((r) => r.subject);
    console.log(
      `  the sandbox saw ${subjects.length} JWT bearer grants, for ${[...new Set(subjects)].join(', ')}`,
    );
  }
} finally {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
