// MSK Blaze (FHIR R4 behind MSK APIM): search the patients of one protocol through the
// fetch adapter. Every request carries ?researchstudy=<protocol>; the token is fetched
// once and refreshed ahead of expiry by authrail.
import { createAuthFetch } from '@authrail/fetch';
import { mskApim } from '@authrail/msk-apim';
import type { AuthEvents } from '@authrail/core';

export interface BlazeConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  researchStudy: string;
}

interface Bundle {
  total?: number;
  entry?: { resource: { id: string; name?: { family?: string; given?: string[] }[] } }[];
}

/** Lists the patients of `config.researchStudy`; returns their display names. */
export async function listPatients(config: BlazeConfig, on: AuthEvents = {}): Promise<string[]> {
  const strategy = mskApim({ ...config, on });
  const api = createAuthFetch(strategy);
  const response = await api(`${config.baseUrl}/msk-apim/external/blaze/fhir/Patient?_count=10`, {
    headers: { Accept: 'application/fhir+json' },
  });
  if (!response.ok) throw new Error(`Blaze answered ${response.status}`);
  const bundle = (await response.json()) as Bundle;
  return (bundle.entry ?? []).map(({ resource }) => {
    const name = resource.name?.[0];
    return [name?.given?.join(' '), name?.family].filter(Boolean).join(' ') || resource.id;
  });
}
