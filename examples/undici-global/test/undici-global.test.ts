// The vendor SDK (src/vendor-sdk.ts, no authrail in it) against two sandboxes, two origins:
// MSK APIM, and NCI (Okta + CTRP). What each origin received is what the sandboxes
// recorded: each credential reached its own origin only, and the SDK's telemetry, an
// origin with no route, got none.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { getGlobalDispatcher, setGlobalDispatcher, type Agent, type Dispatcher } from 'undici';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { authenticateProcess } from '../src/authenticate.js';
import { accrualXml, putAccrual, reportUsage, searchPatients } from '../src/vendor-sdk.js';

let mskSide: Sandbox;
let nciSide: Sandbox;
let agent: Agent;
let previous: Dispatcher;
const subjects = [
  { id: 'S-001', registeredOn: '2026-11-02' },
  { id: 'S-002', registeredOn: '2026-11-09' },
];

beforeAll(async () => {
  [mskSide, nciSide] = await Promise.all([startSandbox(), startSandbox()]);
  previous = getGlobalDispatcher();
  agent = authenticateProcess(
    {
      baseUrl: mskSide.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: '17-001',
    },
    {
      issuer: nciSide.urls.okta.issuer,
      clientId: demoClients.okta.clientId,
      clientSecret: demoClients.okta.clientSecret,
      scope: 'ctrp.accrual',
      baseUrl: nciSide.urls.ctrp.baseUrl,
    },
  );
});
afterAll(async () => {
  setGlobalDispatcher(previous);
  await agent?.close();
  await Promise.all([mskSide?.close(), nciSide?.close()]);
});

/** Everything a sandbox (both its listeners) received, as one text to search. */
function received(sandbox: Sandbox): string {
  return sandbox.requests
    .map((r) => JSON.stringify({ path: r.path, query: r.query, headers: r.headers, body: r.body.toString() }))
    .join('\n');
}

const basic = (id: string, secret: string) => Buffer.from(`${id}:${secret}`).toString('base64');

test('one global dispatcher: the SDK reaches MSK and CTRP with the right credential each, its telemetry with none', async () => {
  // Settled, not awaited one by one: what each origin received is checked even when a call failed.
  const [names, answer, usage] = await Promise.allSettled([
    searchPatients(mskSide.urls.mskApim.fhirBaseUrl),
    putAccrual(nciSide.urls.ctrp.baseUrl, 'NCI-2024-00001', '123456', subjects),
    reportUsage(`${mskSide.urls.elsewhere}/usage`, 2),
  ]);
  const [fhir, ...moreFhir] = mskSide.resourceRequests();
  const [put, ...morePuts] = nciSide.resourceRequests();

  // Neither credential reached the other origin: every bearer token an origin received is one
  // it issued to its own client; no token, secret or Basic credential of the other is in any
  // header, query or body it received.
  const bearers = (side: Sandbox) =>
    side.requests.filter((r) => r.headers.authorization?.startsWith('Bearer '));
  for (const [side, client] of [
    [mskSide, demoClients.mskApim.clientId],
    [nciSide, demoClients.okta.clientId],
  ] as const)
    expect(bearers(side).map((r) => [r.path, r.clientId])).toEqual(
      bearers(side).map((r) => [r.path, client]),
    );
  const mskToken = fhir!.headers.authorization!;
  const ctrpToken = put!.headers.authorization!;
  expect(mskToken).not.toBe(ctrpToken);
  const atMsk = received(mskSide);
  const atNci = received(nciSide);
  const okta = demoClients.okta;
  for (const secret of [ctrpToken.slice(7), okta.clientSecret, basic(okta.clientId, okta.clientSecret)])
    expect(atMsk).not.toContain(secret);
  for (const secret of [mskToken.slice(7), demoClients.mskApim.clientSecret])
    expect(atNci).not.toContain(secret);

  // The telemetry origin has no route: the request arrived as the SDK wrote it, with no credential.
  const telemetry = mskSide.requests.filter((r) => r.listener === 'elsewhere');
  expect(telemetry.map((r) => [r.method, r.path, r.query, r.headers.authorization])).toEqual([
    ['POST', '/usage', {}, undefined],
  ]);
  expect(nciSide.requests.filter((r) => r.listener === 'elsewhere')).toEqual([]);

  expect([moreFhir, morePuts]).toEqual([[], []]);
  // MSK: its own token (client_secret_post, scope full) and researchstudy, which the SDK never set.
  expect(mskSide.tokenRequests().map((r) => [r.clientId, r.clientAuth, r.status])).toEqual([
    [demoClients.mskApim.clientId, 'client_secret_post', 200],
  ]);
  expect(fhir).toMatchObject({ route: 'msk-fhir', status: 200, clientId: demoClients.mskApim.clientId });
  expect(fhir!.query.researchstudy).toBe('17-001');

  // NCI: the Okta token (Basic client authentication) on the CTRP PUT, the XML as the SDK sent it.
  expect(nciSide.tokenRequests().map((r) => [r.clientId, r.clientAuth, r.status])).toEqual([
    [okta.clientId, 'client_secret_basic', 200],
  ]);
  expect(put).toMatchObject({ route: 'ctrp-accrual', method: 'PUT', status: 200, clientId: okta.clientId });
  expect(put!.body.toString()).toBe(accrualXml(subjects));

  // And the SDK got its answers.
  expect(names.status === 'fulfilled' && names.value.length).toBeGreaterThan(0);
  expect(answer.status === 'fulfilled' && answer.value).toContain('<subjects>2</subjects>');
  expect(usage.status).toBe('fulfilled');
});

test('a revoked Okta token: the SDK’s PUT is sent again once, with a fresh token and the same XML', async () => {
  expect(nciSide.revokeTokens({ service: 'okta' })).toBe(1);
  const before = nciSide.resourceRequests().length;
  const answer = await putAccrual(nciSide.urls.ctrp.baseUrl, 'NCI-2024-00001', '123456', subjects);
  expect(answer).toContain('<subjects>2</subjects>');
  const puts = nciSide.resourceRequests().slice(before);
  expect(puts.map((r) => r.status)).toEqual([401, 200]);
  expect(puts.map((r) => r.body.toString())).toEqual([accrualXml(subjects), accrualXml(subjects)]);
  expect(puts[0]!.headers.authorization).not.toBe(puts[1]!.headers.authorization);
  expect(nciSide.tokenRequests()).toHaveLength(2);
  expect(mskSide.tokenRequests()).toHaveLength(1); // the other strategy's token is untouched
});
