import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '@authrail/sandbox';
import { startGateway, type Gateway } from '../src/gateway.js';
import { GATEWAY_CLIENT, callerTokens, sandboxCallers } from '../src/sandbox-setup.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
let sandbox: Sandbox;
let gateway: Gateway;
beforeAll(async () => {
  sandbox = await startSandbox({ clients: sandboxCallers });
  gateway = await startGateway({
    issuer: sandbox.urls.okta.issuer,
    tokenEndpoint: sandbox.urls.okta.tokenEndpoint,
    ...GATEWAY_CLIENT,
    ctrpBaseUrl: sandbox.urls.ctrp.baseUrl,
    audience: 'api://ctrp',
    scope: 'ctrp.read',
  });
});
afterAll(async () => {
  await gateway?.close();
  await sandbox?.close();
});

const call = (token: string) =>
  fetch(`${gateway.url}/trials/NCI-2024-00001/sites/123`, { headers: { Authorization: `Bearer ${token}` } });

test('each caller reaches CTRP as themselves: one exchange per caller, the downstream request acts for them', async () => {
  const [portal, dashboard] = await callerTokens(sandbox);
  for (const token of [portal!, dashboard!, portal!, dashboard!])
    expect((await call(token)).status).toBe(200);
  const exchanges = sandbox.tokenRequests({ clientId: GATEWAY_CLIENT.clientId });
  expect(exchanges.map((r) => [r.grantType, r.status])).toEqual([
    [TOKEN_EXCHANGE, 200],
    [TOKEN_EXCHANGE, 200],
  ]);
  const downstream = sandbox.resourceRequests({ route: 'ctrp-accrual' });
  expect(downstream.map((r) => [r.clientId, r.subject, r.status])).toEqual([
    [GATEWAY_CLIENT.clientId, 'researcher-portal', 200],
    [GATEWAY_CLIENT.clientId, 'site-dashboard', 200],
    [GATEWAY_CLIENT.clientId, 'researcher-portal', 200],
    [GATEWAY_CLIENT.clientId, 'site-dashboard', 200],
  ]);
  // The caller's own token never went downstream.
  for (const request of downstream) {
    expect(request.headers.authorization).not.toContain(portal);
    expect(request.headers.authorization).not.toContain(dashboard);
  }
});

test('a caller whose token the authorization server refuses gets 401, and CTRP is not called', async () => {
  const before = sandbox.resourceRequests({ route: 'ctrp-accrual' }).length;
  const refused = await call('not-a-token-okta-issued');
  expect(refused.status).toBe(401);
  expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  expect(sandbox.resourceRequests({ route: 'ctrp-accrual' })).toHaveLength(before);
  expect((await fetch(`${gateway.url}/trials/NCI-2024-00001/sites/123`)).status).toBe(401);
});
