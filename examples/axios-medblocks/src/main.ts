// Runs against the embedded sandbox unless MEDBLOCKS_BASE_URL, MEDBLOCKS_CLIENT_ID and
// MEDBLOCKS_CLIENT_SECRET point at a real Medblocks.
import { demoClients, startSandbox } from '@authrail/sandbox';
import { medblocksFhir, type MedblocksConfig } from './patients.js';

const env = process.env;
const real = env.MEDBLOCKS_BASE_URL && env.MEDBLOCKS_CLIENT_ID && env.MEDBLOCKS_CLIENT_SECRET;
const sandbox = real ? undefined : await startSandbox();
const config: MedblocksConfig = real
  ? {
      baseUrl: env.MEDBLOCKS_BASE_URL!,
      clientId: env.MEDBLOCKS_CLIENT_ID!,
      clientSecret: env.MEDBLOCKS_CLIENT_SECRET!,
    }
  : { baseUrl: sandbox!.urls.medblocks.baseUrl, ...demoClients.medblocksBackend };

try {
  console.log(`Medblocks at ${config.baseUrl} (${real ? 'real service' : 'sandbox'})`);
  const fhir = medblocksFhir(config, { tokenFetched: () => console.log('  token fetched') });
  for (const name of await fhir.patientNames()) console.log(`  - ${name}`);
  if (!real) console.log(`  created Patient/${await fhir.createPatient('Example', 'Test')}`);
} finally {
  await sandbox?.close();
}
