// A process of its own for the file store's tests (run through spawnTs). Modes:
//   run <sandboxUrl>   a script's run: the Medblocks sign-in strategy on the file store
//                      gets a token and calls FHIR once; reports what it did, then ends
//   write              rewrites the key's token file as fast as it can until killed
// The directory and key come in AUTHRAIL_TEST_DIR and AUTHRAIL_TEST_KEY.
import { createHash } from 'node:crypto';
import { createToken } from '@authrail/core';
import { medblocksAuthorizationCode } from '@authrail/medblocks';
import { createFileTokenStore } from '../src/index.js';

/** What `run` prints as its last line. */
export interface RunReport {
  /** SHA-256 of the access token used (never the token). */
  tokenHash: string;
  /** The FHIR request's status. */
  status: number;
  /** Lines the store said on the logger. */
  warnings: string[];
}

const env = process.env;
const warnings: string[] = [];
const store = createFileTokenStore({
  directory: env.AUTHRAIL_TEST_DIR!,
  encryption: { current: 'k1', keys: { k1: env.AUTHRAIL_TEST_KEY! } },
  leaseMs: 2_000,
  pollMs: 20,
  logger: { warn: (line) => warnings.push(line) },
});

/** The Medblocks sign-in strategy as a script builds it: the same in every run (and in the test). */
function scriptStrategy(sandboxUrl: string) {
  return medblocksAuthorizationCode({
    baseUrl: `${sandboxUrl}/medblocks`,
    clientId: 'medblocks-demo-spa',
    redirectUri: 'http://127.0.0.1:8976/callback',
    store,
  });
}

const [mode, sandboxUrl] = process.argv.slice(2);
if (mode === 'run') {
  const strategy = scriptStrategy(sandboxUrl!);
  const token = await strategy.tokens.getToken();
  const response = await fetch(`${sandboxUrl}/medblocks/fhir/Patient`, {
    headers: { authorization: `Bearer ${token.accessToken}` },
  });
  await response.arrayBuffer();
  const report: RunReport = {
    tokenHash: createHash('sha256').update(token.accessToken).digest('hex'),
    status: response.status,
    warnings,
  };
  console.log(JSON.stringify(report));
} else if (mode === 'write') {
  let n = 0;
  for (;;) {
    n += 1;
    // Tokens of varying length: a torn write would show as a short or mixed file.
    await store.set(
      'torn-key',
      createToken({ accessToken: `at-${n}-${'x'.repeat(n % 4096)}`, expiresIn: 3600 }),
    );
    if (n === 1) console.log('writing');
  }
}
