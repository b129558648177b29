// The runtime smoke conformance: one script, bundled once, run as it is in Node, Bun, Deno
// and workerd against a sandbox the test started. Fetch-based packages only (core, oauth2,
// the presets, the fetch adapter). It reports what it saw; the test checks that and what the
// sandbox counted.
import { createAuthFetch } from '@authrail/fetch';
import { mskApim } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import type { AuthStrategy } from '@authrail/core';

/** Where the sandbox answers (`sandbox.urls`, the parts used). */
export interface SmokeConfig {
  mskBaseUrl: string;
  mskFhirBaseUrl: string;
  oktaIssuer: string;
  echo: string;
  redirect: string;
  elsewhere: string;
  clientId: string;
  clientSecret: string;
  oktaClientId: string;
  oktaClientSecret: string;
}

export interface SmokeReport {
  /** The abort's error name, while the token request hung. */
  abort: string;
  /** Statuses of five concurrent first requests (one token request for all, checked by the sandbox). */
  cold: number[];
  /** The status after a 401 (replayed once by core). */
  replay: number;
  /** The Authorization another origin received (null: none). */
  elsewhere: string | null;
  /** The Authorization a redirect's landing on another origin received. */
  redirected: string | null;
  /** The status of that redirected request. */
  redirectStatus: number;
}

/** The two strategies the smoke uses, whatever the client: Okta's (made slow once) and MSK's. */
export function smokeStrategies(config: SmokeConfig): { slow: AuthStrategy; msk: AuthStrategy } {
  return {
    slow: oktaClientCredentials({
      issuer: config.oktaIssuer,
      clientId: config.oktaClientId,
      clientSecret: config.oktaClientSecret,
      scope: 'ctrp.read',
      origins: [new URL(config.echo).origin],
    }),
    msk: mskApim({
      baseUrl: config.mskBaseUrl,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      researchStudy: '17-001',
    }),
  };
}

export async function smoke(config: SmokeConfig): Promise<SmokeReport> {
  const strategies = smokeStrategies(config);
  // 1. Abort while the token is fetched (the test made Okta's token endpoint slow once).
  const slow = createAuthFetch(strategies.slow);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const abort = await slow(`${config.echo}/aborted`, { signal: controller.signal }).then(
    () => 'not aborted',
    (error: unknown) => (error as Error).name,
  );

  // 2. Cold start: five requests at once, one token.
  const api = createAuthFetch(strategies.msk);
  const cold = await Promise.all(
    Array.from({ length: 5 }, async () => (await api(`${config.mskFhirBaseUrl}/Patient`)).status),
  );

  // 3. A 401 (the test queued one on the echo route): invalidated, replayed once.
  const replay = (await api(`${config.echo}/replayed`)).status;

  // 4. Another origin: no credential.
  const there = (await (await api(`${config.elsewhere}/direct`)).json()) as {
    headers: Record<string, string>;
  };

  // 5. A redirect to another origin, followed hop by hop: the token stays behind.
  const via = `${config.redirect}?to=${encodeURIComponent(`${config.elsewhere}/landing`)}&status=302`;
  const redirectedResponse = await api(via);
  const landed = (await redirectedResponse.json()) as { headers: Record<string, string> };

  return {
    abort,
    cold,
    replay,
    elsewhere: there.headers.authorization ?? null,
    redirected: landed.headers.authorization ?? null,
    redirectStatus: redirectedResponse.status,
  };
}
