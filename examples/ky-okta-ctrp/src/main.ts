// Runs against the embedded sandbox unless OKTA_ISSUER, CTRP_CLIENT_ID, CTRP_CLIENT_SECRET
// and CTRP_BASE_URL point at the real Okta and CTRP.
import { demoClients, startSandbox } from '@authrail/sandbox';
import { submitAccrual, type CtrpConfig } from './accrual.js';

const env = process.env;
const real = env.OKTA_ISSUER && env.CTRP_CLIENT_ID && env.CTRP_CLIENT_SECRET && env.CTRP_BASE_URL;
const sandbox = real ? undefined : await startSandbox();
const config: CtrpConfig = real
  ? {
      issuer: env.OKTA_ISSUER!,
      clientId: env.CTRP_CLIENT_ID!,
      clientSecret: env.CTRP_CLIENT_SECRET!,
      scope: env.CTRP_SCOPE ?? 'ctrp.accrual',
      ctrpBaseUrl: env.CTRP_BASE_URL!,
    }
  : {
      issuer: sandbox!.urls.okta.issuer,
      clientId: demoClients.okta.clientId,
      clientSecret: demoClients.okta.clientSecret,
      scope: 'ctrp.accrual',
      ctrpBaseUrl: sandbox!.urls.ctrp.baseUrl,
    };

try {
  console.log(
    `CTRP at ${config.ctrpBaseUrl} (${real ? 'real service' : 'sandbox'}), Okta issuer ${config.issuer}`,
  );
  const answer = await submitAccrual(
    config,
    env.CTRP_TRIAL_ID ?? 'NCI-2024-00001',
    env.CTRP_PO_ID ?? '123456',
    [
      { id: 'S-001', registeredOn: '2026-11-02' },
      { id: 'S-002', registeredOn: '2026-11-09' },
    ],
    { tokenFetched: (e) => console.log(`  Okta token fetched (scope ${e.token.scope})`) },
  );
  console.log(answer);
} finally {
  await sandbox?.close();
}
