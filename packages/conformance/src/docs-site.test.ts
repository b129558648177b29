// The docs site as a reader gets it: built with typedoc (`typedoc.json`, warnings are
// errors) into a temporary folder, served over HTTP on 127.0.0.1 and opened in real
// Chromium (Debian's, never a downloaded build). Every page loads with no console error,
// no failed request and no broken image; every link to a page of the site lands on a file
// that exists; the sidebar starts with getting started and holds every guide and example;
// the search finds `researchstudy`. Beside it, the sandbox URLs the testing guide states
// are checked against a running sandbox.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox } from '@authrail/sandbox';
import { launchChromium } from '@authrail/test-utils';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
};

let site = '';
let server: Server | undefined;
let origin = '';
let browser: Browser | undefined;

/** A local URL's file in the built site, or undefined when it leaves the site. */
function fileOf(url: URL): string | undefined {
  const path = join(site, decodeURIComponent(url.pathname));
  if (!path.startsWith(site)) return undefined;
  return existsSync(path) && statSync(path).isDirectory() ? join(path, 'index.html') : path;
}

function pagesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.html'))
    .map((e) => relative(site, join(e.parentPath, e.name)).split(sep).join('/'));
}

beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'authrail-docs-site-'));
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'node_modules/typedoc/bin/typedoc'), '--out', site, '--logLevel', 'Warn'],
    { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 16 * 1024 * 1024 },
  );
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    // Chromium asks for it on its own; the pages never name one.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = fileOf(url);
    if (!file || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, {
            'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
            // Every page loads the same scripts: kept, as a host would keep them.
            'cache-control': file.endsWith('.html') ? 'no-store' : 'max-age=600',
          })
          .end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (server) await new Promise((resolve) => server!.close(resolve));
  if (site) await rm(site, { recursive: true, force: true });
});

/** Opens a page and waits for the sidebar, which typedoc's script builds after load. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(`${origin}/${path}`, { waitUntil: 'load' });
  await sidebar(page);
}

async function sidebar(page: Page): Promise<void> {
  await page.waitForSelector('#tsd-nav-container li a', { state: 'attached' });
}

describe('the docs site, built and opened in Chromium', () => {
  test('every page loads with no console error, failed request, broken image or broken link', async () => {
    const pages = pagesOf(site);
    expect(pages.length).toBeGreaterThan(100); // the guides, the examples and the API
    // Each page is checked once it has loaded. The sidebar, the same script and data on
    // every page, is also awaited on the first page of each folder (and the root's): its
    // links are checked there, and waiting for it on all 200-odd pages would double the
    // walk on a 2-core machine.
    const withSidebar = new Set(
      pages.filter(
        (path, i) =>
          !path.includes('/') || pages.findIndex((p) => p.split('/')[0] === path.split('/')[0]) === i,
      ),
    );
    const problems: string[] = [];
    const links = new Map<string, string>(); // local file → the first page that links to it
    const context = await browser!.newContext();
    // Three tabs share the walk: one renders while another waits on the server.
    const queue = [...pages];
    await Promise.all(
      [1, 2, 3].map(async () => {
        const page = await context.newPage();
        let current = '';
        page.on('console', (msg) => {
          if (msg.type() === 'error') problems.push(`${current}: console error: ${msg.text()}`);
        });
        page.on('pageerror', (error) => problems.push(`${current}: uncaught: ${error.message}`));
        page.on('response', (response) => {
          if (response.status() >= 400) problems.push(`${current}: ${response.status()} ${response.url()}`);
        });
        page.on('requestfailed', (request) =>
          problems.push(`${current}: failed ${request.url()} (${request.failure()?.errorText})`),
        );
        for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
          current = path;
          await page.goto(`${origin}/${path}`, { waitUntil: 'load' });
          if (withSidebar.has(path)) await sidebar(page);
          const found = await page.evaluate(() => ({
            brokenImages: [...document.images]
              .filter((img) => !img.complete || img.naturalWidth === 0)
              .map((img) => img.src),
            hrefs: [...document.querySelectorAll('a[href]')].map((a) => (a as HTMLAnchorElement).href),
          }));
          for (const src of found.brokenImages) problems.push(`${path}: broken image ${src}`);
          for (const href of found.hrefs) {
            const url = new URL(href);
            if (url.origin !== origin) continue;
            const file = fileOf(url);
            if (file && !links.has(file)) links.set(file, path);
          }
        }
        await page.close();
      }),
    );
    await context.close();
    for (const [file, from] of links)
      if (!existsSync(file)) problems.push(`${from}: broken link to ${relative(site, file)}`);
    expect(problems).toEqual([]);
    expect(links.size).toBeGreaterThan(pages.length / 2);
  }, 300_000); // 70 s alone; the whole suite beside it on 2 cores can double that

  test('the sidebar starts with getting started and holds every guide and every example', async () => {
    const page = await browser!.newPage();
    await open(page, 'index.html');
    const top = await page
      .locator('#tsd-nav-container > li > :is(a, details > summary a)')
      .evaluateAll((els) => els.map((el) => el.textContent!.trim()));
    expect(top[0]).toBe('Getting started');
    const entries = await page
      .locator('#tsd-nav-container a')
      .evaluateAll((els) =>
        els.map((el) => ({ text: el.textContent!.trim(), href: (el as HTMLAnchorElement).href })),
      );
    // A guide is its frontmatter title in the sidebar; an example, a page under Examples.
    for (const name of readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md'))) {
      const text = await readFile(join(ROOT, 'docs', name), 'utf8');
      const title = /^---\n[\s\S]*?^title: (.+)$/m.exec(text)?.[1];
      expect(title, `docs/${name} has a title`).toBeDefined();
      expect(
        entries.map((e) => e.text),
        `docs/${name}`,
      ).toContain(title);
    }
    for (const name of readdirSync(join(ROOT, 'examples'))) {
      if (!existsSync(join(ROOT, 'examples', name, 'README.md'))) continue;
      expect(
        entries.map((e) => e.href),
        `examples/${name}`,
      ).toContain(`${origin}/documents/Examples.${name}.html`);
    }
    await page.close();
  }, 60_000);

  test('the search finds researchstudy, in the API and in the guides', async () => {
    const page = await browser!.newPage();
    await open(page, 'index.html');
    await page.click('#tsd-search-trigger');
    await page.fill('#tsd-search-input', 'researchstudy');
    const results = page.locator('#tsd-search-results li a');
    await results.first().waitFor();
    const found = await results.evaluateAll((els) => els.map((el) => (el as HTMLAnchorElement).href));
    expect(found.some((href) => href.includes('/interfaces/_authrail_msk-apim.'))).toBe(true);
    expect(found.some((href) => href.includes('/documents/'))).toBe(true);
    await page.close();
  }, 60_000);
});

test('the testing guide states every sandbox URL as the sandbox gives it', async () => {
  const guide = await readFile(join(ROOT, 'docs/testing.md'), 'utf8');
  const stated = new Map(
    [...guide.matchAll(/^\| `([a-zA-Z.]+)` +\| `([^`]+)` +\|/gm)].map(([, key, url]) => [key!, url!]),
  );
  const sandbox = await startSandbox();
  try {
    const actual = new Map<string, string>();
    const walk = (prefix: string, value: object) => {
      for (const [key, v] of Object.entries(value)) {
        if (typeof v === 'string') actual.set(`${prefix}${key}`, v);
        else walk(`${prefix}${key}.`, v as object);
      }
    };
    walk('', sandbox.urls);
    expect([...stated.keys()].sort()).toEqual([...actual.keys()].sort());
    for (const [key, url] of actual) {
      const expected =
        key === 'elsewhere'
          ? url.replace(/:\d+$/, ':OTHER_PORT')
          : url.replace(sandbox.url, '{url}') + (key === 'redirect' ? '?to=URL&status=302' : '');
      expect(stated.get(key), key).toBe(expected);
    }
  } finally {
    await sandbox.close();
  }
});
