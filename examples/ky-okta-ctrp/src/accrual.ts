// NCI CTRP accrual: submit study subjects for a trial site with an XML PUT through ky,
// authenticated with Okta client credentials.
import ky from 'ky';
import type { AuthEvents } from '@authrail/core';
import { createAuthKy } from '@authrail/ky';
import { oktaClientCredentials } from '@authrail/okta';

export interface CtrpConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** Base of the CTRP API, e.g. https://ctrp.example.gov (the origin that receives the token). */
  ctrpBaseUrl: string;
}

export interface Subject {
  id: string;
  registeredOn: string;
}

/** The accrual document CTRP expects. */
export function accrualXml(subjects: readonly Subject[]): string {
  const items = subjects
    .map(
      (s) =>
        `  <studySubject><studySubjectId>${s.id}</studySubjectId><registrationDate>${s.registeredOn}</registrationDate></studySubject>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<accrual>\n${items}\n</accrual>`;
}

/** PUTs the accrual of a trial site; returns CTRP's XML answer. */
export async function submitAccrual(
  config: CtrpConfig,
  trialId: string,
  poId: string,
  subjects: readonly Subject[],
  on: AuthEvents = {},
): Promise<string> {
  const strategy = oktaClientCredentials({
    issuer: config.issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scope: config.scope,
    origins: [new URL(config.ctrpBaseUrl).origin],
    on,
  });
  const ctrp = createAuthKy(strategy, { ky, timeout: 15_000, retry: { limit: 2 } });
  return ctrp
    .put(`${config.ctrpBaseUrl}/accrual-services/trials/nci/${trialId}/sites/po/${poId}`, {
      body: accrualXml(subjects),
      headers: { 'Content-Type': 'application/xml' },
    })
    .text();
}
