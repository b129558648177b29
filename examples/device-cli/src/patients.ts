// A researcher's script: signs in as the person running it with the device flow (RFC 8628),
// then reads FHIR through the fetch adapter. The person is asked once; later tokens come
// from the refresh token, and with a file store later runs ask nobody.
import { createAuthStrategy, type AuthEvents, type TokenStore } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { deviceAuthorization, type DevicePrompt } from '@authrail/oauth2';

export interface DeviceCliConfig {
  /** The authorization server's issuer (discovery gives the device authorization endpoint). */
  issuer: string;
  /** The FHIR base URL the script reads. */
  fhirBaseUrl: string;
  /** The public client registered for the script. */
  clientId: string;
  /** Scope; `offline_access` for a refresh token. */
  scope: string;
}

interface Bundle {
  entry?: { resource: { id: string; name?: { family?: string; given?: string[] }[] } }[];
}

/**
 * Signs in (showing the prompt through `onPrompt`, or on stderr), then lists patients.
 * `signal` cancels the sign-in at once (Ctrl-C).
 */
export async function listPatients(
  config: DeviceCliConfig,
  options: {
    onPrompt?: (prompt: DevicePrompt) => void;
    signal?: AbortSignal;
    on?: AuthEvents;
    /** Where the sign-in is kept: `@authrail/node`'s file store keeps it between runs. Default: memory. */
    store?: TokenStore;
  } = {},
): Promise<string[]> {
  const strategy = createAuthStrategy({
    source: deviceAuthorization({
      server: { issuer: config.issuer, discovery: true },
      clientId: config.clientId,
      scope: config.scope,
      ...(options.onPrompt ? { onPrompt: options.onPrompt } : {}),
    }),
    origins: [new URL(config.fhirBaseUrl).origin],
    ...(options.on ? { on: options.on } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  const api = createAuthFetch(strategy);
  const response = await api(`${config.fhirBaseUrl}/Patient?_count=10`, {
    headers: { Accept: 'application/fhir+json' },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!response.ok) throw new Error(`the FHIR server answered ${response.status}`);
  const bundle = (await response.json()) as Bundle;
  return (bundle.entry ?? []).map(({ resource }) => {
    const name = resource.name?.[0];
    return [name?.given?.join(' '), name?.family].filter(Boolean).join(' ') || resource.id;
  });
}
