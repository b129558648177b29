// The runtime matrix: the fetch-based packages (core, oauth2, the presets, the fetch
// adapter) bundled once and run as they are in Node 20.19, 20 (this one), 22 and 24, Bun
// and Deno, against a
// sandbox started here: cold start with one token request, a 401 replayed once, another
// origin and a redirect to it without the credential, an abort while the token is fetched.
// The same script runs in workerd as a module worker and in Chromium as a page script.
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { beforeAll, describe, expect, test } from 'vitest';
import { demoClients } from '@authrail/sandbox';
import { launchChromium, useSandbox } from '@authrail/test-utils';
import type { SmokeConfig, SmokeReport } from '../runtimes/smoke.js';

const sb = useSandbox();
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const out = join(packageRoot, 'node_modules', '.runtimes');
const bin = (name: string) => join(packageRoot, 'node_modules', '.bin', name);
const exec = promisify(execFile);

/** The universal builds of every dependency (openid-client, jose), as a worker or a browser gets them. */
async function bundle(entry: string, file: string): Promise<string> {
  const built = await build({
    entryPoints: [join(packageRoot, 'runtimes', entry)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['@authrail/source', 'worker', 'browser', 'import', 'default'],
    target: 'es2022',
    write: false,
    absWorkingDir: packageRoot,
    logLevel: 'silent',
  });
  const path = join(out, file);
  writeFileSync(path, built.outputFiles[0]!.text);
  return path;
}

let script = '';
beforeAll(async () => {
  mkdirSync(out, { recursive: true });
  script = await bundle('main.ts', 'smoke.mjs');
}, 60_000);

function config(): SmokeConfig {
  return {
    mskBaseUrl: sb.urls.mskApim.baseUrl,
    mskFhirBaseUrl: sb.urls.mskApim.fhirBaseUrl,
    oktaIssuer: sb.urls.okta.issuer,
    echo: sb.urls.echo,
    redirect: sb.urls.redirect,
    elsewhere: sb.urls.elsewhere,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    oktaClientId: demoClients.okta.clientId,
    oktaClientSecret: demoClients.okta.clientSecret,
  };
}

/** Queues what the smoke meets: a slow token endpoint once (the abort), a 401 once (the replay). */
function arrange(): void {
  sb.inject('okta-token', { type: 'delay', ms: 2_000 }, { times: 1 });
  sb.inject('echo', { type: 'unauthorized' }, { times: 1 });
}

/** What every runtime must have done, by its report and the sandbox's counts. */
function expectConformant(report: SmokeReport): void {
  expect(report).toEqual({
    abort: 'AbortError',
    cold: [200, 200, 200, 200, 200],
    replay: 200,
    elsewhere: null,
    redirected: null,
    redirectStatus: 200,
  });
  // One token request for the five cold requests (single flight), one after the 401.
  expect(sb.tokenRequests({ service: 'mskApim' })).toHaveLength(2);
  const echoes = sb.resourceRequests({ route: 'echo' }).filter((r) => r.path === '/echo/replayed');
  expect(echoes.map((r) => r.status)).toEqual([401, 200]);
}

const RUNTIMES: { name: string; command: () => Promise<[string, string[], Record<string, string>?]> }[] = [
  { name: 'Node 20 (this one)', command: async () => [process.execPath, [script, JSON.stringify(config())]] },
  // The lowest Node the packages support, and the newer majors.
  ...['20.19.0', '22', '24'].map((major) => ({
    name: `Node ${major}`,
    command: async (): Promise<[string, string[]]> => {
      const { stdout } = await exec('npx', [
        '-y',
        '-p',
        `node@${major}`,
        '--',
        'node',
        '-p',
        'process.execPath',
      ]);
      return [stdout.trim(), [script, JSON.stringify(config())]];
    },
  })),
  { name: 'Bun', command: async () => [bin('bun'), [script, JSON.stringify(config())]] },
  {
    name: 'Deno',
    command: async () => [
      bin('deno'),
      ['run', '--allow-net', '--allow-env=AUTHRAIL_SMOKE', '--no-prompt', script],
      { AUTHRAIL_SMOKE: JSON.stringify(config()) },
    ],
  },
];

/** A free port on 127.0.0.1 (taken and released: workerd binds it next). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('runtime matrix: workerd (Cloudflare Workers)', () => {
  test('cold start, 401 replay, origin allowlist, redirects hop by hop, abort — in a module worker', async () => {
    await bundle('worker.ts', 'worker.mjs');
    const port = await freePort();
    // The worker may reach the sandbox on 127.0.0.1 ("local"), as a worker reaches its origin.
    writeFileSync(
      join(out, 'workerd.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .smoke),
    (name = "internet", network = (allow = ["public", "private", "local"]))
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const smoke :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.mjs") ],
  compatibilityDate = "2026-07-01",
  globalOutbound = "internet",
);
`,
    );
    // A process group of its own: pnpm's shim is a shell that does not exec workerd, so
    // killing the shell alone would leave workerd running after the suite.
    const workerd = spawn(bin('workerd'), ['serve', join(out, 'workerd.capnp')], {
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((resolve) => workerd.once('exit', resolve));
    try {
      arrange();
      let response: Response | undefined;
      for (let i = 0; i < 100 && !response; i += 1) {
        response = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: JSON.stringify(config()),
        }).catch(() => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)));
      }
      expect(response?.status).toBe(200);
      expectConformant((await response!.json()) as SmokeReport);
    } finally {
      process.kill(-workerd.pid!, 'SIGTERM');
      await exited;
    }
  }, 120_000);
});

describe('runtime matrix: the axios adapter on Bun', () => {
  test('the same through axios and attachAuth (axios bundled with its Node adapter), in Bun', async () => {
    const built = await build({
      entryPoints: [join(packageRoot, 'runtimes', 'axios-main.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      conditions: ['@authrail/source'],
      target: 'es2022',
      write: false,
      absWorkingDir: packageRoot,
      logLevel: 'silent',
      // axios' Node build is CommonJS: give the bundle a require for Node's modules.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    const path = join(out, 'axios-smoke.mjs');
    writeFileSync(path, built.outputFiles[0]!.text);
    arrange();
    const { stdout } = await exec(bin('bun'), [path, JSON.stringify(config())], { timeout: 60_000 });
    expectConformant(JSON.parse(stdout.trim().split('\n').at(-1)!) as SmokeReport);
  }, 120_000);
});

describe('runtime matrix: Chromium', () => {
  test('the same, in a page on another origin (CORS), where the browser follows redirects itself', async () => {
    const built = await build({
      entryPoints: [join(packageRoot, 'runtimes', 'page.ts')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      conditions: ['@authrail/source', 'browser'],
      target: 'es2022',
      write: false,
      absWorkingDir: packageRoot,
      logLevel: 'silent',
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${sb.urls.elsewhere}/page`);
      await page.addScriptTag({ content: built.outputFiles[0]!.text });
      arrange();
      const report = await page.evaluate(
        (settings) =>
          (globalThis as unknown as { runSmoke: (c: SmokeConfig) => Promise<SmokeReport> }).runSmoke(
            settings,
          ),
        config(),
      );
      expectConformant(report);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe.each(RUNTIMES)('runtime matrix: $name', ({ command }) => {
  test('cold start, 401 replay, origin allowlist, redirects hop by hop, abort', async () => {
    arrange();
    const [file, args, env] = await command();
    const { stdout } = await exec(file, args, { env: { ...process.env, ...env }, timeout: 60_000 });
    expectConformant(JSON.parse(stdout.trim().split('\n').at(-1)!) as SmokeReport);
  }, 120_000);
});
