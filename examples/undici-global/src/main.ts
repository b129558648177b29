// One setGlobalDispatcher, then a vendor SDK that knows nothing of authrail reaches MSK
// Blaze and NCI CTRP with the right credential each. Runs against two embedded sandboxes
// (two origins: MSK APIM, and NCI's Okta + CTRP) unless MSK_APIM_BASE_URL, MSK_CLIENT_ID,
// MSK_CLIENT_SECRET, MSK_RESEARCH_STUDY (MSK) and OKTA_ISSUER, CTRP_CLIENT_ID,
// CTRP_CLIENT_SECRET, CTRP_BASE_URL (CTRP) point at the real services.
import { demoClients, startSandbox } from '@authrail/sandbox';
import { authenticateProcess, type CtrpConfig, type MskConfig } from './authenticate.js';
import { putAccrual, reportUsage, searchPatients } from './vendor-sdk.js';

const env = process.env;
const realMsk = env.MSK_APIM_BASE_URL && env.MSK_CLIENT_ID && env.MSK_CLIENT_SECRET && env.MSK_RESEARCH_STUDY;
const realCtrp = env.OKTA_ISSUER && env.CTRP_CLIENT_ID && env.CTRP_CLIENT_SECRET && env.CTRP_BASE_URL;
const mskSide = realMsk ? undefined : await startSandbox();
const nciSide = realCtrp ? undefined : await startSandbox();

const msk: MskConfig = mskSide
  ? {
      baseUrl: mskSide.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: demoClients.mskApim.researchStudies[1]!,
    }
  : {
      baseUrl: env.MSK_APIM_BASE_URL!,
      clientId: env.MSK_CLIENT_ID!,
      clientSecret: env.MSK_CLIENT_SECRET!,
      researchStudy: env.MSK_RESEARCH_STUDY!,
    };
const ctrp: CtrpConfig = nciSide
  ? {
      issuer: nciSide.urls.okta.issuer,
      clientId: demoClients.okta.clientId,
      clientSecret: demoClients.okta.clientSecret,
      scope: 'ctrp.accrual',
      baseUrl: nciSide.urls.ctrp.baseUrl,
    }
  : {
      issuer: env.OKTA_ISSUER!,
      clientId: env.CTRP_CLIENT_ID!,
      clientSecret: env.CTRP_CLIENT_SECRET!,
      scope: env.CTRP_SCOPE ?? 'ctrp.accrual',
      baseUrl: env.CTRP_BASE_URL!,
    };

const agent = authenticateProcess(msk, ctrp, {
  tokenFetched: (e) => console.log(`  token fetched (scope ${e.token.scope})`),
});
try {
  console.log(`MSK Blaze at ${msk.baseUrl} (${mskSide ? 'sandbox' : 'real service'})`);
  for (const name of await searchPatients(`${msk.baseUrl}/msk-apim/external/blaze/fhir`))
    console.log(`  - ${name}`);
  console.log(`NCI CTRP at ${ctrp.baseUrl} (${nciSide ? 'sandbox' : 'real service'})`);
  const answer = await putAccrual(
    ctrp.baseUrl,
    env.CTRP_TRIAL_ID ?? 'NCI-2024-00001',
    env.CTRP_PO_ID ?? '123456',
    [{ id: 'S-001', registeredOn: '2026-11-02' }],
  );
  console.log(answer);
  // An origin with no route: the SDK's own telemetry gets no credential of yours.
  if (mskSide) await reportUsage(`${mskSide.urls.elsewhere}/usage`, 2);
} finally {
  await agent.close();
  await mskSide?.close();
  await nciSide?.close();
}
