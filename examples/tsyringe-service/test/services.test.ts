import { container } from 'tsyringe';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { AUTH_FETCH } from '@authrail/tsyringe';
import { PatientDirectory, configure, forResearchStudy } from '../src/services.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

test('injected services share one token; a child container serves another protocol', async () => {
  const root = container.createChildContainer();
  configure(root, {
    baseUrl: sandbox.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
  });
  const directory = root.resolve(PatientDirectory);
  expect(root.resolve(PatientDirectory)).not.toBe(directory); // services are transient…
  expect(root.resolve(AUTH_FETCH)).toBe(root.resolve(AUTH_FETCH)); // …their client is one per container
  const [a, b] = await Promise.all([
    directory.patientIds(),
    forResearchStudy(root, '12-245').resolve(PatientDirectory).patientIds(),
  ]);
  expect(a.length).toBeGreaterThan(0);
  expect(b.length).toBeGreaterThan(0);
  expect(
    sandbox
      .resourceRequests({ route: 'msk-fhir' })
      .map((r) => r.query.researchstudy)
      .sort(),
  ).toEqual(['12-245', '17-001']);
  expect(sandbox.tokenRequests()).toHaveLength(1);
});
