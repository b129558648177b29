// The script run four times, as a researcher would over a day, against the embedded
// sandbox (unless MEDBLOCKS_BASE_URL and MEDBLOCKS_CLIENT_ID point at a real Medblocks):
// the first run signs in, the second uses the cached token, the third refreshes a token
// the API revoked, and the last signs out. The cache is a throwaway directory here.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { runScript } from './runs.js';

const env = process.env;
const real = env.MEDBLOCKS_BASE_URL && env.MEDBLOCKS_CLIENT_ID;
const sandbox = real ? undefined : await startSandbox();
const directory = env.AUTHRAIL_CACHE_DIR ?? (await mkdtemp(join(tmpdir(), 'authrail-cache-')));
const scriptEnv = {
  MEDBLOCKS_BASE_URL: env.MEDBLOCKS_BASE_URL ?? sandbox!.urls.medblocks.baseUrl,
  MEDBLOCKS_CLIENT_ID: env.MEDBLOCKS_CLIENT_ID ?? demoClients.medblocksSpa.clientId,
  AUTHRAIL_CACHE_PASSPHRASE: env.AUTHRAIL_CACHE_PASSPHRASE ?? 'sandbox demo passphrase',
  AUTHRAIL_CACHE_DIR: directory,
  ...(sandbox ? { SANDBOX_USER: '1' } : {}),
};

/** What the sandbox saw since `from`: token requests by grant, and sign-in page visits. */
function seen(from: number): string {
  if (!sandbox) return '';
  const requests = sandbox.requests.slice(from);
  const grants = requests.filter((r) => r.route === 'medblocks-token').map((r) => r.grantType);
  const signIns = requests.filter((r) => r.route === 'medblocks-authorize').length;
  return ` [sign-in requests: ${signIns}, token requests: ${grants.join(', ') || 'none'}]`;
}

try {
  const steps: [string, () => void, string[]][] = [
    ['first run', () => undefined, []],
    ['second run', () => undefined, []],
    ['after the API revoked the access token', () => sandbox?.revokeTokens({ service: 'medblocks' }), []],
    ['sign-out', () => undefined, ['--sign-out']],
  ];
  for (const [label, before, args] of steps) {
    before();
    const from = sandbox?.requests.length ?? 0;
    const said = (await runScript(scriptEnv, args)).split('\n').join('; ');
    console.log(`${label}: ${said}${seen(from)}`);
  }
  console.log(`files left in the cache: ${(await readdir(directory)).length}`);
} finally {
  if (!env.AUTHRAIL_CACHE_DIR) await rm(directory, { recursive: true, force: true });
  await sandbox?.close();
}
