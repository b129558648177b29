// Stands for a third-party SDK: code you install and do not change. It calls the global
// `fetch` and knows nothing of authrail, tokens, `researchstudy` or Okta; nothing here is
// written for this example's sake. The process's global dispatcher (see authenticate.ts)
// is what authenticates its requests.

interface Bundle {
  entry?: { resource: { id: string; name?: { family?: string; given?: string[] }[] } }[];
}

/** A FHIR patient search; the display names of the first page. */
export async function searchPatients(fhirBaseUrl: string, count = 10): Promise<string[]> {
  const response = await fetch(`${fhirBaseUrl}/Patient?_count=${count}`, {
    headers: { Accept: 'application/fhir+json' },
  });
  if (!response.ok) throw new Error(`FHIR server answered ${response.status}`);
  const bundle = (await response.json()) as Bundle;
  return (bundle.entry ?? []).map(({ resource }) => {
    const name = resource.name?.[0];
    return [name?.given?.join(' '), name?.family].filter(Boolean).join(' ') || resource.id;
  });
}

/** A study subject registered at a trial site. */
export interface Subject {
  id: string;
  registeredOn: string;
}

/** The accrual document NCI CTRP expects. */
export function accrualXml(subjects: readonly Subject[]): string {
  const items = subjects
    .map(
      (s) =>
        `  <studySubject><studySubjectId>${s.id}</studySubjectId><registrationDate>${s.registeredOn}</registrationDate></studySubject>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<accrual>\n${items}\n</accrual>`;
}

/** PUTs a trial site's accrual to NCI CTRP; CTRP's XML answer. */
export async function putAccrual(
  ctrpBaseUrl: string,
  trialId: string,
  poId: string,
  subjects: readonly Subject[],
): Promise<string> {
  const response = await fetch(`${ctrpBaseUrl}/accrual-services/trials/nci/${trialId}/sites/po/${poId}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/xml' },
    body: accrualXml(subjects),
  });
  if (!response.ok) throw new Error(`CTRP answered ${response.status}`);
  return response.text();
}

/** The SDK's telemetry ping to its vendor: an origin of its own, no credential of yours. */
export async function reportUsage(telemetryUrl: string, calls: number): Promise<void> {
  const response = await fetch(telemetryUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdk: 'research-sdk', calls }),
  });
  await response.arrayBuffer();
}
