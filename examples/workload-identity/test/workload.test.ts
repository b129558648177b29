import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ErrorCodes } from '@authrail/core';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { rotateAssertion } from '../src/platform.js';
import { workloadFetch, type WorkloadConfig } from '../src/workload.js';

let sandbox: Sandbox;
let dir: string;
let config: WorkloadConfig;
beforeAll(async () => {
  sandbox = await startSandbox();
  dir = await mkdtemp(join(tmpdir(), 'authrail-workload-test-'));
  config = {
    issuer: sandbox.url,
    tokenEndpoint: sandbox.urls.smart.tokenEndpoint,
    clientId: demoClients.smartBackend.clientId,
    assertionFile: join(dir, 'token'),
    scope: 'system/Patient.rs',
    apiOrigin: sandbox.url,
  };
});
afterAll(async () => {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const assertionsSent = () =>
  sandbox
    .tokenRequests({ service: 'smart' })
    .map((r) => new URLSearchParams(r.body.toString()).get('client_assertion'));

test('the file’s assertion authenticates the workload; after the platform rotates it, the next token request sends the new one', async () => {
  const first = await rotateAssertion(config.assertionFile, config.tokenEndpoint);
  const { api, strategy } = workloadFetch(config);
  const patients = `${sandbox.urls.smart.fhirBaseUrl}/Patient`;
  expect((await api(patients)).status).toBe(200);
  expect((await api(patients)).status).toBe(200);
  const second = await rotateAssertion(config.assertionFile, config.tokenEndpoint);
  await strategy.tokens.clear();
  expect((await api(patients)).status).toBe(200);
  expect(assertionsSent()).toEqual([first, second]);
  expect(sandbox.tokenRequests({ service: 'smart' }).every((r) => r.clientAuth === 'private_key_jwt')).toBe(
    true,
  );
});

test('a missing file: the request fails with an error that names the path, and nothing is sent', async () => {
  const before = sandbox.tokenRequests().length;
  const { api } = workloadFetch({ ...config, assertionFile: join(dir, 'not-there') }, {});
  const error = await api(`${sandbox.urls.smart.fhirBaseUrl}/Patient`).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE });
  expect((error as Error).message).toContain(join(dir, 'not-there'));
  expect(sandbox.tokenRequests()).toHaveLength(before);
});

test('an expired assertion in the file is never sent', async () => {
  const path = join(dir, 'expired');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  await writeFile(path, `${b64({ alg: 'ES384' })}.${b64({ exp: Math.floor(Date.now() / 1000) - 1 })}.c2ln`);
  const before = sandbox.tokenRequests().length;
  const { api } = workloadFetch({ ...config, assertionFile: path }, {});
  const error = await api(`${sandbox.urls.smart.fhirBaseUrl}/Patient`).catch((e: unknown) => e);
  expect((error as Error).message).toMatch(/expired at/);
  expect(sandbox.tokenRequests()).toHaveLength(before);
});
