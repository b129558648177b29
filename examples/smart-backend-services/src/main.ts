// Runs against the embedded sandbox unless SMART_FHIR_BASE_URL, SMART_CLIENT_ID,
// SMART_PRIVATE_KEY (a PKCS#8 PEM, or the path of one), SMART_KEY_ALG (RS384 or ES384)
// and SMART_KID point at a real SMART on FHIR server.
import { readFile } from 'node:fs/promises';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { importPrivateKey, type SmartAlgorithm } from '@authrail/smart';
import { bulkExport, type ExportConfig } from './bulk-export.js';

const env = process.env;
const real = env.SMART_FHIR_BASE_URL && env.SMART_CLIENT_ID && env.SMART_PRIVATE_KEY && env.SMART_KID;
const sandbox = real ? undefined : await startSandbox();

async function pem(value: string): Promise<string> {
  return value.includes('BEGIN PRIVATE KEY') ? value : readFile(value, 'utf8');
}

const config: ExportConfig = real
  ? {
      fhirBaseUrl: env.SMART_FHIR_BASE_URL!,
      clientId: env.SMART_CLIENT_ID!,
      privateKey: await importPrivateKey(await pem(env.SMART_PRIVATE_KEY!), {
        alg: (env.SMART_KEY_ALG ?? 'RS384') as SmartAlgorithm,
        kid: env.SMART_KID!,
      }),
      types: (env.SMART_EXPORT_TYPES ?? 'Patient').split(','),
    }
  : {
      fhirBaseUrl: sandbox!.urls.smart.fhirBaseUrl,
      clientId: demoClients.smartBackend.clientId,
      privateKey: await importPrivateKey(
        { ...demoClients.smartBackend.privateJwk },
        { kid: demoClients.smartBackend.kid },
      ),
      types: ['Patient', 'Observation'],
    };

try {
  console.log(`SMART Backend Services at ${config.fhirBaseUrl} (${real ? 'real server' : 'sandbox'})`);
  const result = await bulkExport(config, {
    tokenFetched: (e) =>
      console.log(
        `  token fetched with a signed assertion (expires ${new Date(e.token.expiresAt ?? 0).toISOString()})`,
      ),
  });
  console.log(`  export of ${result.transactionTime} ready after ${result.polls} status polls`);
  for (const [type, count] of Object.entries(result.counts)) console.log(`  - ${type}: ${count} resources`);
} finally {
  await sandbox?.close();
}
