#!/usr/bin/env node
// The published packages as a user installs them: every package packed (after
// `pnpm run build`) by `npm run tarballs`'s script, docs/getting-started.md followed
// exactly (its npm install line in an empty project, its first call run with node), the
// tarballs installed with npm into a fresh project beside their
// peers, each imported with `import` and loaded with `require` on Node 20, 22 and 24, and
// a consumer that uses every package type-checked with TypeScript 5.9 and 7 (whose default
// is to load no @types package unless told). Exits non-zero on the first failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishedPackages } from './tarballs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The peers a user brings, at the versions the tests use. */
const PEERS = [
  'axios@1.21.1',
  'ky@2.1.0',
  'ioredis@5',
  'undici@7',
  'tsyringe@4.10.0',
  'reflect-metadata@0.2.2',
  '@opentelemetry/api@1.9.0',
  // A Node app has Node's types; TypeScript 7 loads them only when a package refers to them.
  '@types/node@20',
];
const NODES = ['20', '22', '24'];
const TYPESCRIPTS = ['5.9.3', '7.0.2'];

const run = (file, args, options = {}) =>
  execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
const step = (what) => process.stdout.write(`› ${what}\n`);

const packages = publishedPackages();

const work = mkdtempSync(join(tmpdir(), 'authrail-packed-'));
try {
  step(`npm run tarballs: ${packages.length} packages packed`);
  const folder = join(work, 'tarballs');
  run(process.execPath, [join(ROOT, 'scripts/tarballs.mjs'), folder]);
  const tarballs = readdirSync(folder).map((name) => join(folder, name));

  // docs/getting-started.md, exactly as written: the tarballs installed with npm into an
  // empty project, and the first call saved as first-call.mjs and run with node.
  step('getting started: npm install <folder>/*.tgz in an empty project, then its first call');
  const first = join(work, 'first');
  mkdirSync(first);
  run('npm', ['init', '-y'], { cwd: first });
  run('sh', ['-c', `npm install --no-audit --no-fund --loglevel=error ${folder}/*.tgz`], { cwd: first });
  const guide = readFileSync(join(ROOT, 'docs/getting-started.md'), 'utf8');
  const call = /## Your first call[\s\S]*?```ts\n([\s\S]*?)```/.exec(guide)?.[1];
  if (!call) throw new Error('docs/getting-started.md has no first call');
  writeFileSync(join(first, 'first-call.mjs'), call);
  const said = run(process.execPath, ['first-call.mjs'], { cwd: first }).trim();
  if (!/^200 \d+ patients$/.test(said)) throw new Error(`the first call printed ${JSON.stringify(said)}`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  step('npm install of the tarballs and the peers');
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...tarballs,
      ...PEERS,
      ...TYPESCRIPTS.map((v) => `typescript-${v.split('.')[0]}@npm:typescript@${v}`),
    ],
    {
      cwd: app,
    },
  );

  const names = packages.map(({ manifest }) => manifest.name);
  step('each package carries its LICENSE');
  for (const name of names) readFileSync(join(app, 'node_modules', name, 'LICENSE'), 'utf8');
  const esm = `for (const name of ${JSON.stringify(names)}) { const m = await import(name); if (!Object.keys(m).length) throw new Error(name + ' exports nothing'); } console.log('ok');`;
  const cjs = `for (const name of ${JSON.stringify(names)}) { const m = require(name); if (!Object.keys(m).length) throw new Error(name + ' exports nothing'); } console.log('ok');`;
  for (const major of NODES) {
    const node =
      major === process.versions.node.split('.')[0]
        ? process.execPath
        : run('npx', ['-y', '-p', `node@${major}`, '--', 'node', '-p', 'process.execPath'], {
            cwd: work,
          }).trim();
    const version = run(node, ['--version']).trim();
    step(`Node ${version}: import and require of every package`);
    run(node, ['--input-type=module', '-e', `import 'reflect-metadata'; ${esm}`], { cwd: app });
    run(node, ['--input-type=commonjs', '-e', `require('reflect-metadata'); ${cjs}`], { cwd: app });
  }

  // A consumer that touches every package's types, as an app would.
  writeFileSync(
    join(app, 'consumer.ts'),
    `import 'reflect-metadata';
import axios from 'axios';
import { container } from 'tsyringe';
import { createAuthStrategy, type AuthStrategy, type Token } from '@authrail/core';
import { clientCredentials, clientSecretPost, tlsClientAuth } from '@authrail/oauth2';
import { createAuthFetch } from '@authrail/fetch';
import { createMtlsFetch, type MtlsFetch } from '@authrail/node';
import { createAuthKy } from '@authrail/ky';
import { attachAuth } from '@authrail/axios';
import { mskApim } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { medblocksClientCredentials } from '@authrail/medblocks';
import { smartBackendServices, generateSigningKey } from '@authrail/smart';
import { openTelemetry } from '@authrail/opentelemetry';
import { createRedisTokenStore } from '@authrail/redis';
import { createFileTokenStore, defaultTokenCacheDirectory } from '@authrail/node';
import { registerAuthStrategy } from '@authrail/tsyringe';
import { startSandbox, demoClients } from '@authrail/sandbox';
import { authrail } from '@authrail/undici';
import { Agent } from 'undici';

const sandbox = await startSandbox();
const strategy: AuthStrategy = mskApim({ baseUrl: sandbox.urls.mskApim.baseUrl, clientId: demoClients.mskApim.clientId, clientSecret: demoClients.mskApim.clientSecret, researchStudy: '17-001', on: openTelemetry() });
const api: typeof fetch = createAuthFetch(strategy);
const ky = createAuthKy(strategy);
const detach: () => void = attachAuth(axios.create(), strategy);
const dispatcher = new Agent().compose(authrail({ [sandbox.url]: strategy }, { bufferBodiesUpTo: 0 }));
registerAuthStrategy(container, strategy);
const key = await generateSigningKey();
smartBackendServices({ fhirBaseUrl: sandbox.urls.smart.fhirBaseUrl, clientId: 'c', privateKey: { key: key.privateKey, kid: key.kid }, scope: 'system/Patient.rs' });
oktaClientCredentials({ issuer: sandbox.urls.okta.issuer, clientId: 'c', clientSecret: 's' });
medblocksClientCredentials({ baseUrl: sandbox.urls.medblocks.baseUrl, clientId: 'c', clientSecret: 's' });
createAuthStrategy({ source: clientCredentials({ server: { issuer: 'https://a.example', tokenEndpoint: 'https://a.example/t' }, clientId: 'c', clientAuth: clientSecretPost('s') }), origins: ['https://a.example'] });
const tls: MtlsFetch = createMtlsFetch({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key' });
clientCredentials({ server: { issuer: 'https://a.example', discovery: true }, clientId: 'c', clientAuth: tlsClientAuth(), fetch: tls });
createAuthFetch(strategy, { fetch: tls });
await tls.close();
const token: Token | undefined = undefined;
const fileStore = createFileTokenStore({ directory: defaultTokenCacheDirectory(), passphrase: 'p' });
void [api, ky, detach, dispatcher, token, createRedisTokenStore, fileStore];
await sandbox.close();
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        experimentalDecorators: true,
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        // TypeScript 7's default: no @types package unless a file refers to it. Set here for
        // 5.9 too: every package that needs Node's types must say so itself.
        types: [],
      },
      include: ['consumer.ts'],
    }),
  );
  // The sandbox alone: no other package's types may bring Node's in for it.
  writeFileSync(
    join(app, 'sandbox-only.ts'),
    `import { startSandbox } from '@authrail/sandbox';\nconst sandbox = await startSandbox();\nconst body: Uint8Array | undefined = sandbox.requests[0]?.body;\nvoid body;\nawait sandbox.close();\n`,
  );
  const consumerConfig = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8'));
  writeFileSync(
    join(app, 'tsconfig.sandbox.json'),
    JSON.stringify({ ...consumerConfig, include: ['sandbox-only.ts'] }),
  );
  for (const version of TYPESCRIPTS) {
    const major = version.split('.')[0];
    step(`TypeScript ${version}: a consumer of every package type-checks`);
    const bin = join(app, 'node_modules', `typescript-${major}`, 'bin', 'tsc');
    run(process.execPath, [bin, '-p', 'tsconfig.json'], { cwd: app });
    run(process.execPath, [bin, '-p', 'tsconfig.sandbox.json'], { cwd: app });
  }
  step('done');
} catch (error) {
  process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}${error.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
