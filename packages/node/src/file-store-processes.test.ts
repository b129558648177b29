// The file store across real processes, against the sandbox's Medblocks code flow
// (rotating, single-use refresh tokens): a script's second run asks nobody for a sign-in,
// and two runs started together refresh once. Each run is test/file-store-child.ts in a
// process of its own.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createToken } from '@authrail/core';
import { medblocksAuthorizationCode } from '@authrail/medblocks';
import { demoClients } from '@authrail/sandbox';
import { signInOnSandbox, spawnTs, useSandbox } from '@authrail/test-utils';
import type { RunReport } from '../test/file-store-child.js';
import { createFileTokenStore } from './index.js';

const CHILD = 'packages/node/test/file-store-child.ts';
const sandbox = useSandbox();
const key = randomBytes(32).toString('base64');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'authrail-file-runs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The store and strategy of test/file-store-child.ts, here to sign in as the user would. */
function script() {
  const store = createFileTokenStore({ directory: dir, encryption: { current: 'k1', keys: { k1: key } } });
  const strategy = medblocksAuthorizationCode({
    baseUrl: sandbox.urls.medblocks.baseUrl,
    clientId: demoClients.medblocksSpa.clientId,
    redirectUri: 'http://127.0.0.1:8976/callback',
    store,
  });
  return { store, strategy };
}

/** Signs the demo user in once (a browser would), storing the token in the file. */
async function signIn(): Promise<void> {
  const { strategy } = script();
  await strategy.handleRedirect(await signInOnSandbox(await strategy.authorizationUrl()));
}

/** Leaves only the refresh token usable: the access token in the file has expired. */
async function expireAccessToken(): Promise<void> {
  const { strategy } = script();
  const held = (await strategy.tokens.peek())!;
  await strategy.tokens.setToken(
    createToken({
      accessToken: held.accessToken,
      expiresAt: Date.now() - 1_000,
      refreshToken: held.refreshToken!,
    }),
  );
}

interface Run {
  report: RunReport | undefined;
  code: number | null;
  stderr: string;
}

/** One run of the script in its own process; it must end by itself within 20 s. */
function run(): Promise<Run> {
  const child = spawnTs(CHILD, {
    args: ['run', sandbox.url],
    env: { AUTHRAIL_TEST_DIR: dir, AUTHRAIL_TEST_KEY: key },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(kill);
      const line = stdout.trim().split('\n').at(-1);
      resolve({ report: line ? (JSON.parse(line) as RunReport) : undefined, code, stderr });
    }),
  );
}

const medblocks = () => sandbox.tokenRequests({ service: 'medblocks' });
const refreshes = () => medblocks().filter((r) => r.grantType === 'refresh_token');
const signIns = () => sandbox.requests.filter((r) => r.path.startsWith('/medblocks/oauth2/auth'));

test('the second run of a script uses the stored token: no sign-in, no token request', async () => {
  await signIn();
  const before = { tokens: medblocks().length, signIns: signIns().length };
  const second = await run();
  expect(second.code, second.stderr).toBe(0); // ended by itself: nothing kept it alive
  expect(second.report).toMatchObject({ status: 200, warnings: [] });
  expect(medblocks().length - before.tokens).toBe(0);
  expect(signIns().length - before.signIns).toBe(0);
}, 30_000);

test('a run after the access token expired refreshes once with the stored refresh token, and asks nobody to sign in', async () => {
  await signIn();
  await expireAccessToken();
  const before = signIns().length;
  const later = await run();
  expect(later.code, later.stderr).toBe(0);
  expect(later.report).toMatchObject({ status: 200, warnings: [] });
  expect(refreshes().map((r) => r.status)).toEqual([200]);
  expect(signIns().length).toBe(before);
  // The rotated refresh token was stored: the run after that refreshes with it, not a spent one.
  await expireAccessToken();
  const next = await run();
  expect(next.report).toMatchObject({ status: 200 });
  expect(refreshes().map((r) => r.status)).toEqual([200, 200]);
}, 30_000);

test('two runs started together on a cache holding only a refresh token make exactly one refresh request', async () => {
  await signIn();
  await expireAccessToken();
  const [a, b] = await Promise.all([run(), run()]);
  expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
  expect(a.report).toMatchObject({ status: 200, warnings: [] });
  expect(b.report).toMatchObject({ status: 200, warnings: [] });
  // One refresh (the refresh token is single use: a second would have been refused), and
  // both runs use the token it got.
  expect(refreshes().map((r) => r.status)).toEqual([200]);
  expect(a.report!.tokenHash).toBe(b.report!.tokenHash);
  expect((await readdir(dir)).filter((n) => !n.endsWith('.json'))).toEqual([]); // no lock left
}, 40_000);

test('a run killed while it holds the lock (mid-refresh): the next run takes the lock over and refreshes', async () => {
  await signIn();
  await expireAccessToken();
  sandbox.inject('medblocks-token', { type: 'hang' });
  const killed = spawnTs(CHILD, {
    args: ['run', sandbox.url],
    env: { AUTHRAIL_TEST_DIR: dir, AUTHRAIL_TEST_KEY: key },
  });
  // It holds the lock and its refresh request is at the (hanging) token endpoint.
  await vi.waitFor(
    async () => {
      expect((await readdir(dir)).some((n) => n.endsWith('.lock'))).toBe(true);
      expect(sandbox.requests.some((r) => r.route === 'medblocks-token' && r.body.length > 0)).toBe(true);
    },
    { timeout: 15_000, interval: 50 },
  );
  killed.kill('SIGKILL');
  await new Promise((resolve) => killed.once('exit', resolve));
  expect((await readdir(dir)).some((n) => n.endsWith('.lock'))).toBe(true); // left behind
  sandbox.clearFaults(); // the token endpoint answers again
  const next = await run();
  expect(next.code, next.stderr).toBe(0);
  expect(next.report).toMatchObject({ status: 200, warnings: [] });
  // The killed run's request got no answer; the next run's is the one refresh.
  expect(refreshes().map((r) => r.status)).toEqual([200]);
  expect((await readdir(dir)).some((n) => n.endsWith('.lock'))).toBe(false);
}, 40_000);
