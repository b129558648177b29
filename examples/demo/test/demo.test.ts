import { expect, test } from 'vitest';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { runDemo } from '../src/demo.js';

const SECRETS = [
  demoClients.mskApim.clientSecret,
  demoClients.okta.clientSecret,
  demoClients.medblocksBackend.clientSecret,
];

test('the demo narrates every step against the embedded sandbox and prints no secret or token', async () => {
  const lines: string[] = [];
  const result = await runDemo({ print: (line) => lines.push(line), env: {} });
  const text = lines.join('\n');
  expect(result).toEqual({
    tokenRequests: 7,
    refreshes: 2,
    retries: 1,
    replays: 1,
    refusedLocally: 1,
    redirectsWithoutCredential: 1,
  });
  for (const step of [
    '1. MSK Blaze',
    '2. NCI CTRP',
    '3. Medblocks',
    '4. The sandbox revokes',
    '5. Refresh ahead of expiry',
    '6. A redirect from the MSK API to another origin',
    '7. A request without a protocol',
    '8. SMART Backend Services with DPoP',
  ]) {
    expect(text).toContain(step);
  }
  expect(text).toContain('GET /Patient?researchstudy=12-245 → 200');
  expect(text).toContain('PUT …/sites/po/123456 (application/xml) → 200');
  expect(text).toContain('GET /fhir/Patient → 200');
  expect(text).toContain('replaying once with a fresh token');
  expect(text).toMatch(
    /token request attempt 1 failed \(AUTHRAIL_TOKEN_ENDPOINT_ERROR\); retrying in \d+ ms/,
  );
  expect(text).toContain('token refreshed: refresh-ahead');
  expect(text).toContain('MissingScopeError (AUTHRAIL_MISSING_SCOPE)');
  expect(text).toContain(
    'GET /Patient → 200; Authorization: DPoP …, a new proof for GET /smart/fhir/Patient',
  );
  expect(text).toContain('token endpoint: 400 use_dpop_nonce, then 200 with the nonce');
  expect(text).toMatch(/302 → [\d.:]+\/landing → 200; Authorization not sent, researchstudy not sent/);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/Bearer [A-Za-z0-9_-]{10,}/);
}, 30_000);

test('environment variables point the demo at real services instead of the sandbox', async () => {
  const service = await startSandbox(); // stands in for the real MSK, Okta and Medblocks
  try {
    const lines: string[] = [];
    const env = {
      MSK_APIM_BASE_URL: service.urls.mskApim.baseUrl,
      MSK_CLIENT_ID: demoClients.mskApim.clientId,
      MSK_CLIENT_SECRET: demoClients.mskApim.clientSecret,
      MSK_RESEARCH_STUDY: '17-001',
      OKTA_ISSUER: service.urls.okta.issuer,
      CTRP_CLIENT_ID: demoClients.okta.clientId,
      CTRP_CLIENT_SECRET: demoClients.okta.clientSecret,
      CTRP_BASE_URL: service.urls.ctrp.baseUrl,
      MEDBLOCKS_BASE_URL: service.urls.medblocks.baseUrl,
      MEDBLOCKS_CLIENT_ID: demoClients.medblocksBackend.clientId,
      MEDBLOCKS_CLIENT_SECRET: demoClients.medblocksBackend.clientSecret,
    };
    const result = await runDemo({ print: (line) => lines.push(line), env });
    expect(lines[0]).toBe('authrail demo — against the real services');
    expect(lines.join('\n')).not.toContain('4. The sandbox revokes'); // fault steps need the sandbox
    expect(result).toMatchObject({ tokenRequests: 3, retries: 0, replays: 0, refusedLocally: 1 });
    expect(service.tokenRequests().map((r) => r.clientId)).toEqual([
      demoClients.mskApim.clientId,
      demoClients.okta.clientId,
      demoClients.medblocksBackend.clientId,
    ]);
    expect(service.resourceRequests({ route: 'msk-fhir' })[0]?.query.researchstudy).toBe('17-001');
  } finally {
    await service.close();
  }
});
