import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { importPrivateKey } from '@authrail/smart';
import { bulkExport } from '../src/bulk-export.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

test('kick-off, polls and downloads on one token from one signed assertion; the files are counted', async () => {
  const fetched: unknown[] = [];
  const result = await bulkExport(
    {
      fhirBaseUrl: sandbox.urls.smart.fhirBaseUrl,
      clientId: demoClients.smartBackend.clientId,
      privateKey: await importPrivateKey(
        { ...demoClients.smartBackend.privateJwk },
        { kid: demoClients.smartBackend.kid },
      ),
      types: ['Patient', 'Observation'],
      maxPollDelayMs: 10,
    },
    { tokenFetched: (e) => fetched.push(e) },
  );
  expect(result.counts).toEqual({ Patient: 4, Observation: 4 });
  expect(result.polls).toBe(2); // one 202 with Retry-After, then the manifest
  expect(fetched).toHaveLength(1);
  const [tokenRequest, ...more] = sandbox.tokenRequests({ service: 'smart' });
  expect(more).toHaveLength(0);
  expect(tokenRequest).toMatchObject({ status: 200, clientAuth: 'private_key_jwt' });
  expect(new URLSearchParams(tokenRequest!.body.toString()).get('scope')).toBe(
    'system/Patient.rs system/Observation.rs',
  );
  const fhir = sandbox.resourceRequests({ route: 'smart-fhir' });
  expect(fhir.map((r) => r.status)).toEqual([202, 202, 200, 200, 200]);
  expect(fhir.every((r) => r.headers.authorization?.startsWith('Bearer '))).toBe(true);
});
