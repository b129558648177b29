// Runs against the embedded sandbox unless DEVICE_ISSUER, DEVICE_CLIENT_ID and
// DEVICE_FHIR_BASE_URL point at a real server. On the sandbox, open the printed page and
// approve as demo / demo; with --approve (or DEVICE_CLI_APPROVE=1) the sandbox approves by
// itself, so the example runs unattended. Ctrl-C cancels the sign-in at once. With
// AUTHRAIL_CACHE_PASSPHRASE set, the sign-in is kept in an encrypted file (in
// AUTHRAIL_CACHE_DIR, default ~/.cache/authrail on Linux): the next run asks nobody.
import { createFileTokenStore } from '@authrail/node';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { listPatients, type DeviceCliConfig } from './patients.js';

const env = process.env;
const real = env.DEVICE_ISSUER && env.DEVICE_CLIENT_ID && env.DEVICE_FHIR_BASE_URL;
const approve = process.argv.includes('--approve') || env.DEVICE_CLI_APPROVE === '1';
const sandbox = real ? undefined : await startSandbox();
const config: DeviceCliConfig = real
  ? {
      issuer: env.DEVICE_ISSUER!,
      clientId: env.DEVICE_CLIENT_ID!,
      fhirBaseUrl: env.DEVICE_FHIR_BASE_URL!,
      scope: env.DEVICE_SCOPE ?? 'openid offline_access',
    }
  : {
      issuer: sandbox!.urls.medblocks.baseUrl,
      clientId: demoClients.medblocksCli.clientId,
      fhirBaseUrl: sandbox!.urls.medblocks.fhirBaseUrl,
      scope: 'openid offline_access user/*.read',
    };

const store = env.AUTHRAIL_CACHE_PASSPHRASE
  ? createFileTokenStore({
      passphrase: env.AUTHRAIL_CACHE_PASSPHRASE,
      ...(env.AUTHRAIL_CACHE_DIR ? { directory: env.AUTHRAIL_CACHE_DIR } : {}),
    })
  : undefined;
const cancel = new AbortController();
process.once('SIGINT', () => cancel.abort(new Error('cancelled (Ctrl-C)')));
try {
  console.log(
    `FHIR at ${config.fhirBaseUrl} (${real ? 'real service' : 'sandbox'}), signing in with the device flow`,
  );
  const names = await listPatients(config, {
    signal: cancel.signal,
    ...(store ? { store } : {}),
    onPrompt: (prompt) => {
      const where = prompt.verificationUriComplete ?? prompt.verificationUri;
      console.error(`To sign in, open ${where} and check the code ${prompt.userCode}.`);
      if (!real && !approve)
        console.error(`(sandbox: sign in as ${demoClients.user.username} / ${demoClients.user.password})`);
      if (sandbox && approve) {
        console.error('(sandbox: approving by itself, --approve)');
        sandbox.approveDevice(prompt.userCode);
      }
    },
  });
  for (const name of names) console.log(`  - ${name}`);
} catch (error) {
  console.error(`Not signed in: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await sandbox?.close();
}
