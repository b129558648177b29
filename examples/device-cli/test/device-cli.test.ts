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
