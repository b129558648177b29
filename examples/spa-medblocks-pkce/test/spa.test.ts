// Drives the SPA in real headless Chromium (Debian's, never a downloaded build) through
// the whole Medblocks authorization-code + PKCE flow against the sandbox.
import { mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@authrail/test-utils';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startApp, type App } from '../scripts/app-server.js';

const artifacts = fileURLToPath(new URL('../test-results/', import.meta.url));
let app: App;
let browser: Browser;

beforeAll(async () => {
  // 6 s tokens: old enough to be refreshed (from 3 s) within the test, long enough that a
  // loaded machine (Chromium beside the whole suite) does not reach the refresh window by
  // being slow.
  app = await startApp({ mode: 'preview', sandbox: { tokenLifetimeSeconds: { medblocks: 6 } } });
  browser = await launchChromium();
  await mkdir(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** Waits until the newest Medblocks token is past half its life (with room for the browser to have
 * received it later than the sandbox sent it): the next request refreshes. */
async function untilRefreshDue(page: Page): Promise<void> {
  const issued = app.sandbox!.tokenRequests({ service: 'medblocks' }).at(-1)!.time;
  await page.waitForTimeout(Math.max(0, issued + 3_500 - Date.now()));
}

async function signIn(page: Page, decision: 'Sign in' | 'Deny'): Promise<void> {
  await page.goto(app.url);
  await expect.poll(() => page.textContent('#status')).toBe('Signed out');
  await page.click('#sign-in');
  await page.waitForURL((url) => url.pathname.endsWith('/medblocks/oauth2/auth'));
  await page.fill('#username', 'demo');
  await page.fill('#password', 'demo');
  await page.getByRole('button', { name: decision }).click();
  await page.waitForURL((url) => url.href.startsWith(app.url));
}

test('sign in, list patients, refresh silently, sign out — in a real browser', async () => {
  const sandbox = app.sandbox!;
  const page = await browser.newPage();
  await signIn(page, 'Sign in');

  await expect.poll(() => page.textContent('#status')).toBe('Signed in');
  await page.waitForSelector('#patients li');
  expect(await page.locator('#patients li').allTextContents()).toEqual([
    'Ada Lovelace',
    'Grace Hopper',
    'Rosalind Franklin',
    'Marie Curie',
  ]);
  expect(new URL(page.url()).search).toBe(''); // the code is not left in the address bar
  const exchange = sandbox.tokenRequests({ service: 'medblocks' })[0]!;
  expect(exchange).toMatchObject({ grantType: 'authorization_code', clientAuth: 'none', status: 200 });
  expect(new URLSearchParams(exchange.body.toString()).get('code_verifier')).toMatch(
    /^[A-Za-z0-9_-]{43,128}$/,
  );
  const [read] = sandbox.resourceRequests({ route: 'medblocks-fhir' });
  const accessToken = read!.headers.authorization!.replace(/^Bearer /i, '');
  await page.screenshot({ path: `${artifacts}spa-signed-in.png`, fullPage: true });

  // Silent refresh: once the token is past half its life, the next listing uses the
  // refresh token — in the background while the token is still valid, or just before the
  // request on a slow machine. Either way no sign-in is needed.
  await untilRefreshDue(page);
  await page.click('#list');
  await page.getByText(/token refreshed: (refresh-ahead|expired), refresh_token grant/).waitFor();
  expect(sandbox.tokenRequests({ service: 'medblocks' }).map((r) => r.grantType)).toEqual([
    'authorization_code',
    'refresh_token',
  ]);
  expect(await page.locator('#patients li').count()).toBe(4);

  const text = (await page.textContent('body')) ?? '';
  expect(text).not.toContain(accessToken);

  await page.click('#sign-out');
  await expect.poll(() => page.textContent('#status')).toBe('Signed out');
  expect(await page.locator('#patients li').count()).toBe(0);
  const revoked = sandbox.requests
    .filter((r) => r.path === '/medblocks/oauth2/revoke')
    .map((r) => new URLSearchParams(r.body.toString()).get('token_type_hint'));
  expect(revoked.sort()).toEqual(['access_token', 'refresh_token']);

  const shot = await stat(`${artifacts}spa-signed-in.png`);
  expect(shot.size).toBeGreaterThan(5_000);
  await page.close();
});

test('denying consent shows the access_denied error and stays signed out', async () => {
  const page = await browser.newPage();
  await signIn(page, 'Deny');
  await expect.poll(() => page.textContent('#error')).toContain('access_denied');
  // (The first look at the tokens asks the other tabs, which takes a moment.)
  await expect.poll(() => page.textContent('#status')).toBe('Signed out');
  await page.close();
});

test('three tabs: a tab opened later is signed in, one refresh for all, sign-out in one signs out all', async () => {
  const sandbox = app.sandbox!;
  const grants = () => sandbox.tokenRequests({ service: 'medblocks' }).map((r) => r.grantType);
  const before = grants().length;
  // Tabs of one browser profile: one context.
  const context = await browser.newContext();
  const first = await context.newPage();
  await signIn(first, 'Sign in');
  await first.waitForSelector('#patients li');

  const others = [await context.newPage(), await context.newPage()];
  for (const tab of others) {
    await tab.goto(app.url);
    await expect.poll(() => tab.textContent('#status')).toBe('Signed in'); // no sign-in of its own
    await tab.waitForSelector('#patients li');
  }
  // One sign-in for three tabs (a very slow machine may have refreshed meanwhile: that is
  // the next step's business, not this one's).
  expect(
    grants()
      .slice(before)
      .filter((grant) => grant === 'authorization_code'),
  ).toHaveLength(1);

  // Past half the newest token's life: all three list at once; one tab refreshes, the
  // others take its token (the rotated refresh token is used once).
  await untilRefreshDue(first);
  const sinceClicks = grants().length;
  const tabs = [first, ...others];
  await Promise.all(tabs.map((tab) => tab.click('#list')));
  for (const tab of tabs) await expect.poll(() => tab.locator('#patients li').count()).toBe(4);
  await expect.poll(() => grants().slice(sinceClicks)).toEqual(['refresh_token']);
  await first.waitForTimeout(300);
  expect(grants().slice(sinceClicks)).toEqual(['refresh_token']);
  const refused = sandbox
    .tokenRequests({ service: 'medblocks' })
    .slice(before)
    .filter((r) => r.status !== 200);
  expect(refused).toEqual([]); // no rotated refresh token used twice
  for (const tab of tabs) expect(await tab.textContent('#error')).toBe('');

  // Signing out in the second tab signs out the others: their next request needs a sign-in.
  await others[0]!.click('#sign-out');
  await expect.poll(() => others[0]!.textContent('#status')).toBe('Signed out');
  for (const tab of [first, others[1]!]) {
    await tab.click('#list');
    await expect.poll(() => tab.textContent('#error')).toContain('AUTHRAIL_NOT_AUTHENTICATED');
  }
  await context.close();
});
