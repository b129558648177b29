// The narrated demo: one short session that shows every provider and adapter working,
// against the embedded sandbox (or the real services, when their variables are set).
// It prints what authrail does — token requests, refreshes, replays — never a token.
import axios from 'axios';
import ky from 'ky';
import { attachAuth } from '@authrail/axios';
import { isMissingScopeError, type AuthEvents } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { importPrivateKey, smartBackendServices } from '@authrail/smart';

export interface DemoOptions {
  /** Where the narration goes. Default: stdout. */
  print?: (line: string) => void;
  /** Environment: real-service variables switch a step from the sandbox to the service. */
  env?: Record<string, string | undefined>;
}

export interface DemoResult {
  tokenRequests: number;
  refreshes: number;
  retries: number;
  replays: number;
  refusedLocally: number;
  /** Redirect hops to another origin that went without the credential. */
  redirectsWithoutCredential: number;
}

interface Targets {
  msk: { baseUrl: string; clientId: string; clientSecret: string; researchStudy: string };
  okta: { issuer: string; clientId: string; clientSecret: string; scope: string; ctrpBaseUrl: string };
  medblocks: { baseUrl: string; clientId: string; clientSecret: string };
}

function targetsFrom(env: Record<string, string | undefined>, sandbox: Sandbox | undefined): Targets {
  const pick = (name: string, fallback: () => string) => env[name] ?? fallback();
  const s = () => {
    if (!sandbox) throw new Error('a sandbox value was needed but the sandbox is not running');
    return sandbox;
  };
  return {
    msk: {
      baseUrl: pick('MSK_APIM_BASE_URL', () => s().urls.mskApim.baseUrl),
      clientId: pick('MSK_CLIENT_ID', () => demoClients.mskApim.clientId),
      clientSecret: pick('MSK_CLIENT_SECRET', () => demoClients.mskApim.clientSecret),
      researchStudy: pick('MSK_RESEARCH_STUDY', () => demoClients.mskApim.researchStudies[0]!),
    },
    okta: {
      issuer: pick('OKTA_ISSUER', () => s().urls.okta.issuer),
      clientId: pick('CTRP_CLIENT_ID', () => demoClients.okta.clientId),
      clientSecret: pick('CTRP_CLIENT_SECRET', () => demoClients.okta.clientSecret),
      scope: pick('CTRP_SCOPE', () => 'ctrp.accrual'),
      ctrpBaseUrl: pick('CTRP_BASE_URL', () => s().urls.ctrp.baseUrl),
    },
    medblocks: {
      baseUrl: pick('MEDBLOCKS_BASE_URL', () => s().urls.medblocks.baseUrl),
      clientId: pick('MEDBLOCKS_CLIENT_ID', () => demoClients.medblocksBackend.clientId),
      clientSecret: pick('MEDBLOCKS_CLIENT_SECRET', () => demoClients.medblocksBackend.clientSecret),
    },
  };
}

const REAL_VARIABLES = ['MSK_APIM_BASE_URL', 'OKTA_ISSUER', 'MEDBLOCKS_BASE_URL'];

/** Runs the demo; resolves with what it counted. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const env = options.env ?? process.env;
  const allReal = REAL_VARIABLES.every((name) => env[name]);
  const sandbox = allReal
    ? undefined
    : await startSandbox({ tokenLifetimeSeconds: { mskApim: 3600, okta: 3600, medblocks: 3600 } });
  const result: DemoResult = {
    tokenRequests: 0,
    refreshes: 0,
    retries: 0,
    replays: 0,
    refusedLocally: 0,
    redirectsWithoutCredential: 0,
  };

  // The demo narrates authrail's events itself, so authrail's own warnings (a request sent
  // without a credential, said on console.warn when there is no logger) are turned off.
  const trace = (service: string): { on: AuthEvents; logger: false } => ({
    logger: false,
    on: {
      tokenFetched: (e) => {
        result.tokenRequests += 1;
        print(
          `    ↳ [${service}] token fetched (${e.grant} grant, ${e.attempts} attempt${e.attempts > 1 ? 's' : ''}, ${e.durationMs} ms, expires ${iso(e.token.expiresAt)})`,
        );
      },
      tokenRefreshed: (e) => {
        result.tokenRequests += 1;
        result.refreshes += 1;
        print(
          `    ↳ [${service}] token refreshed: ${e.reason} (${e.grant} grant, expires ${iso(e.token.expiresAt)})`,
        );
      },
      retry: (e) => {
        result.retries += 1;
        print(
          `    ↳ [${service}] token request attempt ${e.attempt} failed (${e.error.code}); retrying in ${e.delayMs} ms`,
        );
      },
      rejected: (e) => {
        if (e.replay) result.replays += 1;
        print(
          `    ↳ [${service}] ${e.method} ${e.url} → ${e.status}; ${e.replay ? 'replaying once with a fresh token' : `not replayed (${e.reason})`}`,
        );
      },
      error: (e) => print(`    ↳ [${service}] ${e.phase} failed: ${e.error.code}`),
      uncredentialed: (e) =>
        print(
          `    ↳ [${service}] ${e.method} ${e.url} sent without a token (${e.reason}; said once per origin)`,
        ),
    },
  });

  try {
    print(
      sandbox
        ? `authrail demo — sandbox running at ${sandbox.url}`
        : 'authrail demo — against the real services',
    );
    const t = targetsFrom(env, sandbox);

    // 1. MSK Blaze through fetch, scoped to a protocol.
    print('\n1. MSK Blaze: patient search through fetch, scoped with researchstudy');
    const msk = mskApim({ ...t.msk, ...trace('msk-apim') });
    const mskFetch = createAuthFetch(msk);
    const blaze = `${t.msk.baseUrl}/msk-apim/external/blaze/fhir`;
    const patients = await mskFetch(`${blaze}/Patient?_count=3`, {
      headers: { Accept: 'application/fhir+json' },
    });
    const bundle = (await patients.json()) as { entry?: unknown[] };
    print(
      `    GET /Patient?researchstudy=${t.msk.researchStudy} → ${patients.status}, ${bundle.entry?.length ?? 0} patients`,
    );
    await mskFetch(`${blaze}/Patient?_count=1`);
    print('    a second request reuses the cached token (no token request)');

    // 2. CTRP accrual PUT with XML, through ky, under an Okta token.
    print('\n2. NCI CTRP: accrual PUT with an XML body through ky, Okta client credentials');
    const okta = oktaClientCredentials({
      issuer: t.okta.issuer,
      clientId: t.okta.clientId,
      clientSecret: t.okta.clientSecret,
      scope: t.okta.scope,
      origins: [new URL(t.okta.ctrpBaseUrl).origin],
      ...trace('okta'),
    });
    const ctrp = createAuthKy(okta, { ky });
    const accrualUrl = `${t.okta.ctrpBaseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123456`;
    const xml =
      '<?xml version="1.0"?><accrual><studySubject><studySubjectId>S-001</studySubjectId></studySubject></accrual>';
    const accrual = await ctrp.put(accrualUrl, { body: xml, headers: { 'Content-Type': 'application/xml' } });
    print(`    PUT …/sites/po/123456 (application/xml) → ${accrual.status}`);

    // 3. Medblocks FHIR through axios.
    print('\n3. Medblocks: GET /fhir/Patient through axios, client credentials (token_type "bearer")');
    const medblocks = medblocksClientCredentials({ ...t.medblocks, ...trace('medblocks') });
    const client = axios.create({ baseURL: `${t.medblocks.baseUrl}/fhir` });
    attachAuth(client, medblocks);
    const mb = await client.get('/Patient', { headers: { Accept: 'application/fhir+json' } });
    print(
      `    GET /fhir/Patient → ${mb.status}, ${(mb.data as { entry?: unknown[] }).entry?.length ?? 0} patients`,
    );

    if (sandbox) {
      // 4. A forced revocation: the 401 is answered by one replay with a fresh token.
      print('\n4. The sandbox revokes every MSK token, and its token endpoint fails once with a 503');
      const revoked = sandbox.revokeTokens({ service: 'mskApim' });
      sandbox.inject('msk-token', { type: 'status', status: 503 }, { times: 1 });
      print(`    sandbox: ${revoked} token(s) revoked, one 503 queued`);
      const again = await mskFetch(`${blaze}/Patient?_count=1`);
      print(`    GET /Patient → ${again.status} (401, one retried token request, one replay)`);

      // 5. Refresh ahead of expiry: a short-lived token is refreshed in the background.
      print('\n5. Refresh ahead of expiry: 4 s Medblocks tokens, refreshed in the background');
      const shortLived = await startSandbox({ tokenLifetimeSeconds: 4 });
      try {
        const brief = medblocksClientCredentials({
          baseUrl: shortLived.urls.medblocks.baseUrl,
          clientId: demoClients.medblocksBackend.clientId,
          clientSecret: demoClients.medblocksBackend.clientSecret,
          ...trace('medblocks (4 s tokens)'),
        });
        const briefClient = axios.create({ baseURL: `${shortLived.urls.medblocks.baseUrl}/fhir` });
        attachAuth(briefClient, brief);
        await briefClient.get('/Patient');
        await new Promise((resolve) => setTimeout(resolve, 2_500)); // past half the lifetime
        const started = Date.now();
        await briefClient.get('/Patient');
        print(
          `    request at 2.5 s served at once (${Date.now() - started} ms) with the current token; the refresh ran alongside`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        await shortLived.close();
      }

      // 6. A redirect to another origin: authrail follows it hop by hop, and the token stays behind.
      print('\n6. A redirect from the MSK API to another origin');
      const away = `${sandbox.urls.redirect}?to=${encodeURIComponent(`${sandbox.urls.elsewhere}/landing`)}&status=302`;
      const landed = await mskFetch(away);
      const seen = (await landed.json()) as {
        headers: Record<string, string>;
        query: Record<string, string>;
      };
      const carried = seen.headers.authorization !== undefined || seen.query.researchstudy !== undefined;
      if (!carried) result.redirectsWithoutCredential += 1;
      print(
        `    302 → ${new URL(sandbox.urls.elsewhere).host}/landing → ${landed.status}; Authorization ${carried ? 'CARRIED' : 'not sent'}, researchstudy ${carried ? 'CARRIED' : 'not sent'}`,
      );
    }

    // 7. A request with no protocol is refused before anything is sent.
    print('\n7. A request without a protocol is refused locally');
    const unscoped = mskApim({
      baseUrl: t.msk.baseUrl,
      clientId: t.msk.clientId,
      clientSecret: t.msk.clientSecret,
      ...trace('msk-apim, no default protocol'),
    });
    try {
      await createAuthFetch(unscoped)(`${blaze}/Patient`);
      print('    unexpected: the request was sent');
    } catch (error) {
      if (!isMissingScopeError(error)) throw error;
      result.refusedLocally += 1;
      print(`    MissingScopeError (${error.code}): ${error.message}`);
    }

    // 8. SMART Backend Services with DPoP (sandbox only: its SMART server, nonces required).
    if (sandbox) {
      print('\n8. SMART Backend Services with DPoP (the sandbox SMART server, nonces required)');
      const smartSandbox = await startSandbox({ dpopNonces: true });
      try {
        const smart = smartBackendServices({
          fhirBaseUrl: smartSandbox.urls.smart.fhirBaseUrl,
          clientId: demoClients.smartBackend.clientId,
          privateKey: await importPrivateKey(
            { ...demoClients.smartBackend.privateJwk },
            { kid: demoClients.smartBackend.kid },
          ),
          scope: 'system/Patient.rs',
          dpop: true,
          ...trace('smart'),
        });
        const fhir = createAuthFetch(smart);
        for (let i = 0; i < 2; i += 1) {
          const response = await fhir(`${smartSandbox.urls.smart.fhirBaseUrl}/Patient?_count=2`);
          const seen = smartSandbox.resourceRequests({ route: 'smart-fhir' }).at(-1)!;
          const proof = JSON.parse(
            Buffer.from(String(seen.headers.dpop).split('.')[1] ?? '', 'base64url').toString(),
          ) as { htm: string; htu: string };
          print(
            `    GET /Patient → ${response.status}; Authorization: ${seen.headers.authorization?.split(' ')[0]} …, a new proof for ${proof.htm} ${new URL(proof.htu).pathname}`,
          );
        }
        const [first, second] = smartSandbox.tokenRequests({ service: 'smart' });
        print(
          `    token endpoint: ${first?.status} use_dpop_nonce, then ${second?.status} with the nonce; authenticated by a signed ES384 assertion (${second?.clientAuth})`,
        );
      } finally {
        await smartSandbox.close();
      }
    }

    print(
      `\nDone: ${result.tokenRequests} tokens obtained, ${result.refreshes} refreshes, ${result.retries} retried token request(s), ${result.replays} replay(s), ` +
        `${result.refusedLocally} request(s) refused locally, ${result.redirectsWithoutCredential} redirect(s) to another origin without the token. No token or secret was printed.`,
    );
    return result;
  } finally {
    await sandbox?.close();
  }
}

function iso(epochMs: number | undefined): string {
  return epochMs === undefined ? 'never' : new Date(epochMs).toISOString().slice(11, 19);
}
