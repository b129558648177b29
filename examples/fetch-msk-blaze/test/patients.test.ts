import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { listPatients } from '../src/patients.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

test('lists the patients of a protocol with one token request and researchstudy on the request', async () => {
  const config = {
    baseUrl: sandbox.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
  };
  const fetched: unknown[] = [];
  const names = await listPatients(config, { tokenFetched: (e) => fetched.push(e) });
  expect(names.length).toBeGreaterThan(0);
  expect(fetched).toHaveLength(1);
  expect(sandbox.tokenRequests({ clientId: demoClients.mskApim.clientId })).toHaveLength(1);
  const [fhir] = sandbox.resourceRequests({ route: 'msk-fhir' });
  expect(fhir?.query.researchstudy).toBe('17-001');
  expect(fhir?.status).toBe(200);
});
