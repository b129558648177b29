// The adapters in real Chromium (Debian's, never a downloaded build), where the browser
// follows redirects itself and drops only `Authorization` on a cross-origin hop: a bearer
// token stays behind, an API key header is never forwarded (authrail refuses the redirect),
// for fetch and for axios over XHR; a 401 is replayed once.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, rejectFirstCredential, useOrigins, type Route } from '@authrail/test-utils';

const packageRoot = join(fileURLToPath(import.meta.url), '../..');
const web = useOrigins();
let browser: Browser;
let bundle = '';

beforeAll(async () => {
  const built = await build({
    entryPoints: [join(packageRoot, 'browser/entry.ts')],
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
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The other origin lets the page's origin read anything and send any header: the worst case. */
function permissive(route: Route): Route {
  return (req, res, seen) => {
    res.setHeader('Access-Control-Allow-Origin', web.api);
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT');
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    route(req, res, seen);
  };
}

test('in Chromium: no credential is forwarded by a redirect the browser follows; a 401 is replayed', async () => {
  web.routes.set('/page', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>authrail</title><script src="/bundle.js"></script>');
  });
  web.routes.set('/bundle.js', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(bundle);
  });
  web.routes.set('/go', (req, res) => {
    res.writeHead(302, { location: new URL(req.url!, 'http://x').searchParams.get('to')! });
    res.end();
  });
  web.routes.set('/reject-first', rejectFirstCredential());
  web.routes.set(
    'other/landed',
    permissive((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('landed');
    }),
  );

  const page = await browser.newPage();
  await page.goto(`${web.api}/page`);
  const results = await page.evaluate(
    ([api, other]) =>
      (globalThis as unknown as { runScenarios: (a: string, o: string) => Promise<unknown> }).runScenarios(
        api!,
        other!,
      ),
    [web.api, web.other],
  );
  await page.close();

  expect(results).toEqual({
    fetchBearer: { status: 200 }, // the browser followed, dropping Authorization
    fetchApiKey: { error: 'RedirectError' }, // the browser would have forwarded X-Api-Key: refused
    fetchReplay: { status: 200 },
    xhrBearer: { status: 200 },
    xhrApiKey: { error: 'RedirectError' },
  });
  const landed = web.seen.filter((s) => s.origin === 'other' && s.method === 'GET');
  expect(landed).toHaveLength(2); // the two bearer requests, and nothing else
  for (const hop of landed) {
    expect(hop.headers.authorization).toBeUndefined();
    expect(hop.headers['x-api-key']).toBeUndefined();
  }
  const preflights = web.seen.filter((s) => s.origin === 'other' && s.method === 'OPTIONS');
  expect(preflights.map((s) => s.headers['access-control-request-headers'] ?? '')).not.toContainEqual(
    expect.stringContaining('x-api-key'),
  );
  const sent = web.seen.filter((s) => s.path === '/go');
  expect(sent.map((s) => [s.headers.authorization?.split(' ')[0], s.headers['x-api-key']])).toEqual([
    ['Bearer', undefined],
    [undefined, 'browser-api-key'],
    ['Bearer', undefined],
    [undefined, 'browser-api-key'],
  ]);
  const [rejected, replayed] = web.seen
    .filter((s) => s.path === '/reject-first')
    .map((s) => s.headers.authorization);
  expect(rejected).toMatch(/^Bearer browser-token-\d+$/);
  expect(replayed).toMatch(/^Bearer browser-token-\d+$/);
  expect(replayed).not.toBe(rejected); // a fresh token for the replay
}, 60_000);
