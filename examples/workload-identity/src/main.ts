// Runs against the embedded sandbox unless TOKEN_ENDPOINT, OAUTH_ISSUER, CLIENT_ID,
// ASSERTION_FILE, SCOPE and API_URL are set (e.g. in a pod with a projected token whose
// issuer your authorization server trusts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { rotateAssertion } from './platform.js';
import { workloadFetch, type WorkloadConfig } from './workload.js';

const env = process.env;
const real = env.TOKEN_ENDPOINT && env.CLIENT_ID && env.ASSERTION_FILE && env.API_URL;
const sandbox = real ? undefined : await startSandbox();
const dir = real ? undefined : await mkdtemp(join(tmpdir(), 'authrail-workload-'));

const apiUrl = real ? env.API_URL! : `${sandbox!.urls.smart.fhirBaseUrl}/Patient`;
const config: WorkloadConfig = real
  ? {
      issuer: env.OAUTH_ISSUER ?? new URL(env.TOKEN_ENDPOINT!).origin,
      tokenEndpoint: env.TOKEN_ENDPOINT!,
      clientId: env.CLIENT_ID!,
      assertionFile: env.ASSERTION_FILE!,
      scope: env.SCOPE ?? '',
      apiOrigin: new URL(env.API_URL!).origin,
    }
  : {
      issuer: sandbox!.url,
      tokenEndpoint: sandbox!.urls.smart.tokenEndpoint,
      clientId: demoClients.smartBackend.clientId,
      assertionFile: join(dir!, 'token'),
      scope: 'system/Patient.rs',
      apiOrigin: sandbox!.url,
    };

try {
  console.log(
    `workload ${config.clientId}, assertion file ${config.assertionFile} (${real ? 'real' : 'sandbox'})`,
  );
  if (!real) await rotateAssertion(config.assertionFile, config.tokenEndpoint); // the platform's first write
  const { api, strategy } = workloadFetch(config, {
    tokenFetched: () => console.log('  token fetched with the assertion from the file'),
  });
  const read = async () => {
    const response = await api(apiUrl, { headers: { Accept: 'application/fhir+json' } });
    console.log(`  GET ${new URL(apiUrl).pathname}: ${response.status}`);
    await response.body?.cancel();
  };
  await read();
  await read(); // the same token
  if (!real) {
    await rotateAssertion(config.assertionFile, config.tokenEndpoint); // the platform rotates the file
    console.log('  the platform replaced the assertion file; the token expires (cleared here)');
  }
  await strategy.tokens.clear();
  await read(); // a new token request: with the new assertion
} finally {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
