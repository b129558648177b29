import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { spawnTs } from '@authrail/test-utils';
import type { DevicePrompt } from '@authrail/oauth2';
import { listPatients } from '../src/patients.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ device: { intervalSeconds: 1 } });
});
afterAll(() => sandbox.close());

test('signs in once with the device flow and reads patients', async () => {
  const prompts: DevicePrompt[] = [];
  const names = await listPatients(
    {
      issuer: sandbox.urls.medblocks.baseUrl,
      clientId: demoClients.medblocksCli.clientId,
      fhirBaseUrl: sandbox.urls.medblocks.fhirBaseUrl,
      scope: 'openid offline_access user/*.read',
    },
    {
      onPrompt: (prompt) => {
        prompts.push(prompt);
        sandbox.approveDevice(prompt.userCode);
      },
    },
  );
  expect(names.length).toBeGreaterThan(0);
  expect(prompts).toHaveLength(1);
  expect(sandbox.resourceRequests({ route: 'medblocks-fhir' }).map((r) => r.status)).toEqual([200]);
});

test('the script runs unattended with --approve: the prompt on stderr, patients on stdout, exit 0', async () => {
  const child = spawnTs('examples/device-cli/src/main.ts', { args: ['--approve'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(0);
  expect(stderr).toMatch(
    /To sign in, open http:\/\/127\.0\.0\.1:\d+\/medblocks\/device\?user_code=[A-Z]{4}-[A-Z]{4} and check the code/,
  );
  expect(stdout).toContain('  - Ada Lovelace');
}, 30_000);

test('Ctrl-C while waiting for the user: the sign-in ends at once and the script exits 1', async () => {
  const child = spawnTs('examples/device-cli/src/main.ts');
  let stderr = '';
  let interrupted = false;
  let interruptedAt = 0;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!interrupted && stderr.includes('To sign in')) {
      interruptedAt = Date.now();
      interrupted = child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(1);
  expect(Date.now() - interruptedAt).toBeLessThan(2_000); // the sandbox's interval is 5 s: no poll was waited out
  expect(stderr).toContain('Not signed in: cancelled (Ctrl-C)');
}, 30_000);

test('with the file cache, a second run in another process asks nobody: 0 device requests, no refresh; the file holds no token in plain text', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'authrail-device-cli-'));
  const env = {
    DEVICE_ISSUER: sandbox.urls.medblocks.baseUrl,
    DEVICE_CLIENT_ID: demoClients.medblocksCli.clientId,
    DEVICE_FHIR_BASE_URL: sandbox.urls.medblocks.fhirBaseUrl,
    DEVICE_SCOPE: 'openid offline_access user/*.read',
    AUTHRAIL_CACHE_PASSPHRASE: 'device-cli test passphrase',
    AUTHRAIL_CACHE_DIR: directory,
  };
  const deviceRequests = () => sandbox.requests.filter((r) => r.route === 'medblocks-device').length;
  const grants = () =>
    sandbox
      .tokenRequests({ service: 'medblocks' })
      .filter((r) => r.status === 200)
      .map((r) => r.grantType);
  const before = { device: deviceRequests(), grants: grants().length };
  try {
    // The first run: the person approves (here: the test, on the sandbox, as the prompt appears).
    const first = await runMain(env, (userCode) => sandbox.approveDevice(userCode));
    expect(first).toMatchObject({ code: 0, prompted: true });
    expect(first.stdout).toContain('  - Ada Lovelace');
    expect(deviceRequests() - before.device).toBe(1);
    expect(grants().slice(before.grants)).toEqual(['urn:ietf:params:oauth:grant-type:device_code']);

    const files = await readdir(directory);
    expect(files.length).toBeGreaterThan(0);
    const sent = sandbox.resourceRequests({ route: 'medblocks-fhir' }).at(-1)!.headers.authorization!;
    const accessToken = sent.replace(/^Bearer /i, '');
    for (const file of files) {
      const bytes = await readFile(join(directory, file), 'utf8');
      expect(bytes).not.toContain(accessToken);
      expect(bytes).not.toContain(accessToken.slice(0, 16));
    }

    // The second run, a new process: the cached token, no prompt, no device request, no refresh.
    const second = await runMain(env, () => {
      throw new Error('the second run asked for a sign-in');
    });
    expect(second).toMatchObject({ code: 0, prompted: false });
    expect(second.stdout).toContain('  - Ada Lovelace');
    expect(deviceRequests() - before.device).toBe(1);
    expect(grants().slice(before.grants)).toEqual(['urn:ietf:params:oauth:grant-type:device_code']);

    // Its access token revoked: a third run refreshes once with the cached refresh token, still asks nobody.
    sandbox.revokeTokens({ service: 'medblocks' });
    const third = await runMain(env, () => {
      throw new Error('the third run asked for a sign-in');
    });
    expect(third).toMatchObject({ code: 0, prompted: false });
    expect(grants().slice(before.grants)).toEqual([
      'urn:ietf:params:oauth:grant-type:device_code',
      'refresh_token',
    ]);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}, 60_000);

/** Runs the script in a process of its own; `approve` is called with the user code it prompts with. */
async function runMain(
  env: Record<string, string>,
  approve: (userCode: string) => void,
): Promise<{ code: number | null; stdout: string; prompted: boolean }> {
  const child = spawnTs('examples/device-cli/src/main.ts', { env });
  let stdout = '';
  let stderr = '';
  let prompted = false;
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const code = /check the code ([A-Z]{4}-[A-Z]{4})/.exec(stderr)?.[1];
    if (code && !prompted) {
      prompted = true;
      approve(code);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, prompted };
}
