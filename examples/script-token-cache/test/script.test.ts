import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { runScript } from '../src/runs.js';

let sandbox: Sandbox;
let directory: string;
beforeAll(async () => {
  sandbox = await startSandbox();
  directory = await mkdtemp(join(tmpdir(), 'authrail-example-cache-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
  await sandbox.close();
});

test('signs in on the first run only: later runs use the cache or its refresh token; sign-out empties it', async () => {
  const env = {
    MEDBLOCKS_BASE_URL: sandbox.urls.medblocks.baseUrl,
    MEDBLOCKS_CLIENT_ID: demoClients.medblocksSpa.clientId,
    AUTHRAIL_CACHE_PASSPHRASE: 'example test passphrase',
    AUTHRAIL_CACHE_DIR: directory,
    SANDBOX_USER: '1',
  };
  const signIns = () => sandbox.requests.filter((r) => r.route === 'medblocks-authorize').length;
  const grants = () => sandbox.tokenRequests({ service: 'medblocks' }).map((r) => r.grantType);

  expect(await runScript(env)).toBe('signed in\n200 4 patients');
  expect([signIns(), grants()]).toEqual([1, ['authorization_code']]);
  const [file] = await readdir(directory);
  const bytes = await readFile(join(directory, file!), 'utf8');
  expect(bytes).not.toMatch(/access_token|accessToken|refreshToken/);

  expect(await runScript(env)).toBe('using the cached sign-in\n200 4 patients');
  expect([signIns(), grants()]).toEqual([1, ['authorization_code']]);

  sandbox.revokeTokens({ service: 'medblocks' });
  expect(await runScript(env)).toBe('using the cached sign-in\n200 4 patients');
  expect([signIns(), grants()]).toEqual([1, ['authorization_code', 'refresh_token']]);

  expect(await runScript(env, ['--sign-out'])).toBe('signed out (revoked: access_token, refresh_token)');
  expect(await readdir(directory)).toEqual([]);
});
