import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { ErrorCodes } from '@authrail/core';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { rotateServiceAccountToken } from '../src/platform.js';
import { federatedFetch, type FederatedConfig } from '../src/workload.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
let sandbox: Sandbox;
let dir: string;
let config: FederatedConfig;
beforeAll(async () => {
  sandbox = await startSandbox();
  dir = await mkdtemp(join(tmpdir(), 'authrail-federated-test-'));
  config = {
    issuer: sandbox.urls.okta.issuer,
    clientId: demoClients.oktaWorkload.clientId,
    assertionFile: join(dir, 'token'),
    scope: 'ctrp.read',
    apiOrigin: sandbox.url,
  };
});
afterEach(() => sandbox.reset());
afterAll(async () => {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const assertionsSent = () =>
  sandbox
    .tokenRequests({ service: 'okta' })
    .map((r) => new URLSearchParams(r.body.toString()).get('assertion'));

test('the service-account token is the grant; after the platform rotates it, the next token request sends the new one', async () => {
  const first = await rotateServiceAccountToken(config.assertionFile, config.issuer);
  const { api, strategy } = federatedFetch(config);
  expect((await api(sandbox.urls.echo)).status).toBe(200);
  expect((await api(sandbox.urls.echo)).status).toBe(200);
  const second = await rotateServiceAccountToken(config.assertionFile, config.issuer);
  await strategy.tokens.clear();
  expect((await api(sandbox.urls.echo)).status).toBe(200);
  expect(assertionsSent()).toEqual([first, second]);
  expect(sandbox.tokenRequests({ service: 'okta' })).toMatchObject([
    { grantType: GRANT, clientAuth: 'none', subject: demoClients.workloadIssuer.subject, status: 200 },
    { grantType: GRANT, clientAuth: 'none', subject: demoClients.workloadIssuer.subject, status: 200 },
  ]);
  expect(sandbox.resourceRequests({ route: 'echo' }).map((r) => r.subject)).toEqual(
    Array(3).fill(demoClients.workloadIssuer.subject),
  );
});

test('an expired service-account token in the file is never sent: a typed error that names the file', async () => {
  const path = join(dir, 'expired');
  await rotateServiceAccountToken(path, config.issuer, -60);
  const { api } = federatedFetch({ ...config, assertionFile: path });
  const error = await api(sandbox.urls.echo).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE });
  expect((error as Error).message).toContain(path);
  expect((error as Error).message).toMatch(/expired at/);
  expect(sandbox.tokenRequests()).toHaveLength(0);
});

test('a token for another audience: the sandbox refuses it with invalid_grant', async () => {
  const path = join(dir, 'elsewhere');
  await rotateServiceAccountToken(path, 'https://login.example.org');
  const { api } = federatedFetch({ ...config, assertionFile: path });
  const error = await api(sandbox.urls.echo).catch((e: unknown) => e);
  expect(error).toMatchObject({ error: 'invalid_grant' });
  expect(sandbox.tokenRequests({ service: 'okta' }).map((r) => r.status)).toEqual([400]);
});
