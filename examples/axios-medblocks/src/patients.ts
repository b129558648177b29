// Medblocks FHIR through axios: read and create Patients with backend client credentials.
import axios from 'axios';
import type { AuthEvents } from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { medblocksClientCredentials } from '@authrail/medblocks';

export interface MedblocksConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

interface Bundle {
  entry?: { resource: { id: string; name?: { family?: string; given?: string[] }[] } }[];
}

/** An axios client for Medblocks FHIR with authrail attached. */
export function medblocksFhir(config: MedblocksConfig, on: AuthEvents = {}) {
  const strategy = medblocksClientCredentials({ ...config, on });
  const client = axios.create({ baseURL: `${config.baseUrl}/fhir`, timeout: 15_000 });
  const detach = attachAuth(client, strategy);
  return {
    async patientNames(): Promise<string[]> {
      const { data } = await client.get<Bundle>('/Patient');
      return (data.entry ?? []).map(({ resource }) =>
        [resource.name?.[0]?.given?.join(' '), resource.name?.[0]?.family].filter(Boolean).join(' '),
      );
    },
    async createPatient(family: string, given: string): Promise<string> {
      const { data } = await client.post<{ id: string }>('/Patient', {
        resourceType: 'Patient',
        name: [{ family, given: [given] }],
      });
      return data.id;
    },
    detach,
  };
}
