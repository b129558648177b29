// Runs against the embedded sandbox unless MSK_APIM_BASE_URL, MSK_CLIENT_ID,
// MSK_CLIENT_SECRET and MSK_RESEARCH_STUDY point at the real MSK APIM.
import 'reflect-metadata';
import { container } from 'tsyringe';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { PatientDirectory, configure, forResearchStudy, type MskConfig } from './services.js';

const env = process.env;
const real = env.MSK_APIM_BASE_URL && env.MSK_CLIENT_ID && env.MSK_CLIENT_SECRET && env.MSK_RESEARCH_STUDY;
const sandbox = real ? undefined : await startSandbox();
const config: MskConfig = real
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
      researchStudy: '17-001',
    };

try {
  configure(container, config);
  console.log(`protocol ${config.researchStudy}:`, await container.resolve(PatientDirectory).patientIds());
  const other = env.MSK_OTHER_RESEARCH_STUDY ?? (real ? undefined : '12-245');
  if (other)
    console.log(
      `protocol ${other}:`,
      await forResearchStudy(container, other).resolve(PatientDirectory).patientIds(),
    );
} finally {
  await sandbox?.close();
}
