// A FHIR Bulk Data export with SMART Backend Services: the kick-off (`$export` with
// `Prefer: respond-async`), status polls that honour `Retry-After`, and the ndjson files of
// the manifest. Every request (kick-off, polls, downloads) goes through one authenticated
// fetch: the token comes from a signed client assertion, no secret anywhere.
import type { AuthEvents } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { smartBackendServices, type SmartBackendServicesOptions } from '@authrail/smart';

export interface ExportConfig {
  fhirBaseUrl: string;
  clientId: string;
  privateKey: NonNullable<SmartBackendServicesOptions['privateKey']>;
  /** Resource types to export, e.g. `['Patient', 'Observation']`. */
  types: string[];
  /** Longest wait between polls, ms, whatever `Retry-After` says. Default 30 s. */
  maxPollDelayMs?: number;
  /** Gives up after this long, ms. Default 10 minutes. */
  timeoutMs?: number;
}

/** What the export produced: resources per type, as counted in the downloaded files. */
export interface ExportResult {
  transactionTime: string;
  polls: number;
  counts: Record<string, number>;
}

interface Manifest {
  transactionTime: string;
  requiresAccessToken?: boolean;
  output: { type: string; url: string }[];
  error?: { type: string; url: string }[];
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), {
      once: true,
    });
  });

/** Runs one system-level export of `config.types` and counts what came back. */
export async function bulkExport(config: ExportConfig, on: AuthEvents = {}): Promise<ExportResult> {
  const base = config.fhirBaseUrl.replace(/\/$/, '');
  const fhir = createAuthFetch(
    smartBackendServices({
      fhirBaseUrl: base,
      clientId: config.clientId,
      privateKey: config.privateKey,
      scope: config.types.map((type) => `system/${type}.rs`).join(' '),
      on,
    }),
  );
  const signal = AbortSignal.timeout(config.timeoutMs ?? 600_000);
  const accept = { Accept: 'application/fhir+json' };

  const kickOff = await fhir(`${base}/$export?_type=${config.types.join(',')}`, {
    headers: { ...accept, Prefer: 'respond-async' },
    signal,
  });
  if (kickOff.status !== 202)
    throw new Error(`$export kick-off answered ${kickOff.status}: ${await kickOff.text()}`);
  const statusUrl = kickOff.headers.get('content-location');
  if (!statusUrl) throw new Error('$export kick-off gave no Content-Location to poll');

  let polls = 0;
  let manifest: Manifest | undefined;
  while (!manifest) {
    const status = await fhir(statusUrl, { headers: accept, signal });
    polls += 1;
    if (status.status === 200) manifest = (await status.json()) as Manifest;
    else if (status.status === 202) {
      await status.body?.cancel();
      const seconds = Number(status.headers.get('retry-after') ?? 1);
      await sleep(
        Math.min((Number.isFinite(seconds) ? seconds : 1) * 1000, config.maxPollDelayMs ?? 30_000),
        signal,
      );
    } else throw new Error(`export status answered ${status.status}: ${await status.text()}`);
  }

  const counts: Record<string, number> = {};
  for (const file of manifest.output) {
    // requiresAccessToken: the files are on the FHIR server's origin, so the same fetch carries the token.
    const response = await download(fhir, file.url, manifest.requiresAccessToken !== false, signal);
    if (!response.ok) throw new Error(`${file.type} file answered ${response.status}`);
    const lines = (await response.text()).split('\n').filter((line) => line.trim());
    counts[file.type] = (counts[file.type] ?? 0) + lines.length;
  }
  return { transactionTime: manifest.transactionTime, polls, counts };
}

/** Files that need no token (`requiresAccessToken: false`, e.g. signed storage URLs) go out without one. */
function download(
  fhir: typeof fetch,
  url: string,
  withToken: boolean,
  signal: AbortSignal,
): Promise<Response> {
  return withToken ? fhir(url, { signal }) : fetch(url, { signal });
}
