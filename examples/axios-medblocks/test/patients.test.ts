import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { medblocksFhir } from '../src/patients.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

test('reads and creates Patients as application/fhir+json with one token', async () => {
  const fhir = medblocksFhir({ baseUrl: sandbox.urls.medblocks.baseUrl, ...demoClients.medblocksBackend });
  expect(await fhir.patientNames()).toContain('Ada Lovelace');
  expect(await fhir.createPatient('Example', 'Test')).toMatch(/\S+/);
  const [get, post] = sandbox.resourceRequests({ route: 'medblocks-fhir' });
  expect(get?.headers.accept).toBe('application/fhir+json');
  expect(post?.headers['content-type']).toBe('application/fhir+json');
  expect(post?.status).toBe(201);
  expect(sandbox.tokenRequests()).toHaveLength(1);
});
