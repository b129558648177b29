// SMART App Launch in real Chromium (Debian's, never a downloaded build), with the
// library's defaults: an EHR opens the app for patient A in one tab and for patient B in
// a second tab of the same browser. Each tab must keep its own patient and send its own
// launch's token (the sandbox binds a launch's tokens to its patient, as strict servers
// do); a tab opened from the first one is in launch A without a sign-in of its own.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { launchChromium, useOrigins } from '@authrail/test-utils';

const packageRoot = join(fileURLToPath(import.meta.url), '../..');
const web = useOrigins();
let browser: Browser;
let sandbox: Sandbox;
let bundle = '';

beforeAll(async () => {
  const built = await build({
    entryPoints: [join(packageRoot, 'browser/smart-launch.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@authrail/source', 'browser'],
    write: false,
    absWorkingDir: packageRoot,
    logLevel: 'silent',
  });
  bundle = built.outputFiles[0]!.text;
  [browser, sandbox] = await Promise.all([launchChromium(), startSandbox()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.close();
});

interface App {
  ready: Promise<string>;
  context(): Promise<{ patient?: string } | undefined>;
  read(path: string): Promise<number>;
}

/** Serves the app on the test's own origin (not the sandbox's): `/launch`, `/callback` and `/app`. */
function serveApp(): void {
  const html =
    `<!doctype html><title>SMART app</title><p id="patient"></p>` +
    `<script>window.SMART = ${JSON.stringify({
      fhirBaseUrl: sandbox.urls.smart.fhirBaseUrl,
      clientId: demoClients.smartApp.clientId,
    })}</script><script src="/app.js"></script>`;
  for (const path of ['/launch', '/callback', '/app'])
    web.routes.set(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html);
    });
  web.routes.set('/app.js', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(bundle);
  });
}

const ready = (tab: Page) => tab.evaluate(() => (globalThis as unknown as { app: App }).app.ready);
const context = (tab: Page) => tab.evaluate(() => (globalThis as unknown as { app: App }).app.context());
const read = (tab: Page, path: string) =>
  tab.evaluate((p) => (globalThis as unknown as { app: App }).app.read(p), path);

/** The EHR opens the app in a new tab for `patient`; the clinician signs in on the sandbox's page. */
async function launchFor(browserContext: BrowserContext, patient: string): Promise<Page> {
  const { iss, launch } = sandbox.smartLaunch({ patient });
  const tab = await browserContext.newPage();
  await tab.goto(`${web.api}/launch?iss=${encodeURIComponent(iss)}&launch=${launch}`);
  await tab.waitForURL((url) => url.pathname === '/smart/auth/authorize');
  await tab.fill('#username', demoClients.user.username);
  await tab.fill('#password', demoClients.user.password);
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.waitForURL((url) => url.pathname === '/app');
  expect(await ready(tab)).toBe('ready');
  return tab;
}

test('in Chromium: two EHR launches in two tabs keep patient A and patient B', async () => {
  serveApp();
  const tabs = await browser.newContext();
  const first = await launchFor(tabs, 'pA');
  expect(await first.textContent('#patient')).toBe('pA');
  expect(await read(first, '/Patient/pA')).toBe(200);

  const second = await launchFor(tabs, 'pB');
  expect(await second.textContent('#patient')).toBe('pB');
  expect(await read(second, '/Patient/pB')).toBe(200);

  // The first tab, after the second launch: still A, and A's token.
  expect((await context(first))?.patient).toBe('pA');
  expect(await read(first, '/Patient/pA')).toBe(200);
  const reads = sandbox.resourceRequests({ route: 'smart-fhir' });
  const tokenOf = (i: number) => reads[i]!.headers.authorization;
  expect(reads.map((r) => [r.path, r.status])).toEqual([
    ['/smart/fhir/Patient/pA', 200],
    ['/smart/fhir/Patient/pB', 200],
    ['/smart/fhir/Patient/pA', 200],
  ]);
  expect(tokenOf(2)).toBe(tokenOf(0));
  expect(tokenOf(1)).not.toBe(tokenOf(0));

  // A tab opened from the first (the browser copies its sessionStorage) is in launch A,
  // and takes A's token from the first tab: no sign-in, no token request of its own.
  const exchanges = sandbox.tokenRequests({ service: 'smart' }).length;
  const [opened] = await Promise.all([tabs.waitForEvent('page'), first.evaluate(() => window.open('/app'))]);
  await opened.waitForLoadState();
  expect(await ready(opened)).toBe('ready');
  expect(await opened.textContent('#patient')).toBe('pA');
  expect(await read(opened, '/Patient/pA')).toBe(200);
  expect(sandbox.resourceRequests({ route: 'smart-fhir' }).at(-1)!.headers.authorization).toBe(tokenOf(0));
  expect(sandbox.tokenRequests({ service: 'smart' })).toHaveLength(exchanges);
  await tabs.close();
});
