// authrail as its consumers load it: bundled into one ES module (our code; the HTTP
// clients stay external, resolved from the app's own node_modules), required by a
// CommonJS app (two copies of axios in memory) and imported by an ES module app, with
// the lowest and the newest axios of the peer range. Each app runs in its own process.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { beforeAll, describe, expect, test } from 'vitest';
import { demoClients } from '@authrail/sandbox';
import { TEST_CA, redirectTo, rejectFirstCredential, useOrigins, useSandbox } from '@authrail/test-utils';

const sb = useSandbox();
const web = useOrigins({ tls: true });
const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..');
const work = join(packageRoot, '.consumers');
/** Where a dependency of this package is installed (its real folder). */
const packageDir = (name: string) => realpathSync(join(packageRoot, 'node_modules', name));

const AXIOS_VERSIONS = { '1.7.9': packageDir('axios17'), '1.21.1': packageDir('axios') };

beforeAll(async () => {
  rmSync(work, { recursive: true, force: true });
  const bundle = await build({
    entryPoints: [join(packageRoot, 'consumers/entry.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['@authrail/source'],
    external: ['axios', 'ky'],
    write: false,
    absWorkingDir: packageRoot,
    logLevel: 'silent',
  });
  for (const [version, axiosDir] of Object.entries(AXIOS_VERSIONS)) {
    const app = join(work, `axios-${version}`);
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(axiosDir, join(app, 'node_modules/axios'));
    symlinkSync(packageDir('ky'), join(app, 'node_modules/ky'));
    cpSync(join(packageRoot, 'consumers'), app, { recursive: true, filter: (path) => !path.endsWith('.ts') });
    writeFileSync(join(app, 'authrail.mjs'), bundle.outputFiles[0]!.contents);
    writeFileSync(join(app, 'ca.pem'), TEST_CA);
  }
}, 60_000);

interface Results {
  module: string;
  axios: string;
  results: {
    axiosError: { instanceOfOwnAxiosError: boolean; isAxiosError: boolean; status: number; leaked: boolean };
    axiosReplay: { status: number; tokensDiffer: boolean };
    axiosRedirect: { status: number; keyOnOtherOrigin: boolean };
    axiosSubdomain: { status: number };
    kyReplay: { status: number };
    kyError: { name: string; leaked: boolean };
    fetchReplay: { status: number };
  };
}

async function runApp(version: string, file: 'consumer.cjs' | 'consumer.mjs'): Promise<Results> {
  const app = join(work, `axios-${version}`);
  const allowed = web.secure('api.authrail.test');
  web.routes.set(
    'secure/up',
    redirectTo(302, () => `${web.secure('evil.api.authrail.test')}/landing`),
  );
  sb.inject('echo', { type: 'unauthorized' }, { times: 2 }); // "always": the request and its replay
  for (const client of ['axios', 'ky', 'fetch']) web.routes.set(`/replay-${client}`, rejectFirstCredential());
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    cwd: app,
    env: {
      ...process.env,
      MSK_BASE_URL: sb.urls.mskApim.baseUrl,
      MSK_CLIENT_ID: demoClients.mskApim.clientId,
      MSK_CLIENT_SECRET: demoClients.mskApim.clientSecret,
      SANDBOX: sb.url,
      API: web.api,
      ECHO: sb.urls.echo,
      REDIRECT: sb.urls.redirect,
      ELSEWHERE: sb.urls.elsewhere,
      TLS_ALLOWED: allowed,
      TLS_CA: join(app, 'ca.pem'),
      NODE_OPTIONS: '',
    },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Results;
}

describe.each(Object.keys(AXIOS_VERSIONS))('a consumer with axios %s', (version) => {
  test.each(['consumer.cjs', 'consumer.mjs'] as const)('%s: every guarantee holds', async (file) => {
    const { module, axios, results } = await runApp(version, file);
    expect(module).toBe(file.endsWith('.cjs') ? 'commonjs' : 'esm');
    expect(axios).toBe(version);
    // The app's own AxiosError, recognised by duck typing inside authrail, with no token in it.
    expect(results.axiosError).toEqual({
      instanceOfOwnAxiosError: true,
      isAxiosError: true,
      status: 401,
      leaked: false,
    });
    // A revoked token is replayed with a fresh one: the second copy of axios did not hide the 401.
    expect(results.axiosReplay).toEqual({ status: 200, tokensDiffer: true });
    expect(results.axiosRedirect).toEqual({ status: 200, keyOnOtherOrigin: false });
    expect(results.axiosSubdomain.status).toBe(200);
    const [up, landing] = web.seen.filter((r) => r.origin === 'secure');
    expect(up?.headers.authorization).toMatch(/^Bearer /);
    expect(landing?.host).toMatch(/^evil\.api\.authrail\.test:/);
    expect(landing?.headers.authorization).toBeUndefined();
    for (const client of ['axios', 'ky', 'fetch']) {
      expect(
        web.seen
          .filter((r) => r.path === `/replay-${client}`)
          .map((r) => r.headers.authorization !== undefined),
      ).toEqual([true, true]);
    }
    expect(results.kyReplay).toEqual({ status: 200 });
    expect(results.kyError).toEqual({ name: 'HTTPError', leaked: false });
    expect(results.fetchReplay).toEqual({ status: 200 });
    expect(sb.resourceRequests({ route: 'echo' }).map((r) => r.status)).toEqual([401, 401]);
  });
});
