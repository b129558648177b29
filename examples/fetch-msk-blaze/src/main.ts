// Runs against the embedded sandbox unless MSK_APIM_BASE_URL, MSK_CLIENT_ID,
// MSK_CLIENT_SECRET and MSK_RESEARCH_STUDY point at the real MSK APIM.
import { demoClients, startSandbox } from '@authrail/sandbox';
import { listPatients, type BlazeConfig } from './patients.js';

const env = process.env;
const real = env.MSK_APIM_BASE_URL && env.MSK_CLIENT_ID && env.MSK_CLIENT_SECRET && env.MSK_RESEARCH_STUDY;
const sandbox = real ? undefined : await startSandbox();
const config: BlazeConfig = real
  ? {
      baseUrl: env.MSK_APIM_BASE_URL!,
      clientId: env.MSK_CLIENT_ID!,
      clientSecret: env.MSK_CLIENT_SECRET!,
      researchStudy: env.MSK_RESEARCH_STUDY!,
    }
  : {
      baseUrl: sandbox!.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: demoClients.mskApim.researchStudies[0]!,
    };

try {
  console.log(
    `MSK Blaze at ${config.baseUrl} (${real ? 'real service' : 'sandbox'}), protocol ${config.researchStudy}`,
  );
  const names = await listPatients(config, {
    tokenFetched: (e) =>
      console.log(`  token fetched (expires ${new Date(e.token.expiresAt ?? 0).toISOString()})`),
  });
  for (const name of names) console.log(`  - ${name}`);
} finally {
  await sandbox?.close();
}
