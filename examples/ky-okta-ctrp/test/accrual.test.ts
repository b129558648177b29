import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { accrualXml, submitAccrual } from '../src/accrual.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

test('submits the accrual XML with an Okta token (Basic client auth) and reads the answer', async () => {
  const config = {
    issuer: sandbox.urls.okta.issuer,
    clientId: demoClients.okta.clientId,
    clientSecret: demoClients.okta.clientSecret,
    scope: 'ctrp.accrual',
    ctrpBaseUrl: sandbox.urls.ctrp.baseUrl,
  };
  const subjects = [
    { id: 'S-001', registeredOn: '2026-11-02' },
    { id: 'S-002', registeredOn: '2026-11-09' },
  ];
  const answer = await submitAccrual(config, 'NCI-2024-00001', '123456', subjects);
  expect(answer).toContain('<subjects>2</subjects>');
  const [put] = sandbox.resourceRequests({ route: 'ctrp-accrual' });
  expect(put).toMatchObject({
    method: 'PUT',
    status: 200,
    headers: expect.objectContaining({ 'content-type': 'application/xml' }),
  });
  expect(put!.body.toString()).toBe(accrualXml(subjects));
  expect(sandbox.tokenRequests({ service: 'okta' })[0]?.clientAuth).toBe('client_secret_basic');
});
