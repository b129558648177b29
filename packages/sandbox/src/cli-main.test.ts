import { expect, test } from 'vitest';
import { runCli } from '@authrail/sandbox';

test('prints the URLs and demo credentials, serves, and closes', async () => {
  let out = '';
  const handle = await runCli(['--port', '0', '--lifetime', '120'], {
    stdout: { write: (t: string) => (out += t) },
  });
  expect(handle).toBeDefined();
  expect(out).toContain(handle!.sandbox.urls.mskApim.tokenEndpoint);
  expect(out).toContain(handle!.sandbox.urls.okta.issuer);
  expect(out).toContain('msk-demo-client / msk-demo-secret');
  expect(out).toContain('tokens live 120 s');
  expect(
    (await fetch(`${handle!.sandbox.urls.medblocks.baseUrl}/.well-known/openid-configuration`)).status,
  ).toBe(200);
  await handle!.close();
  await expect(fetch(handle!.sandbox.url)).rejects.toThrow();
});

test('--help prints usage; bad options are refused', async () => {
  let out = '';
  expect(await runCli(['--help'], { stdout: { write: (t: string) => (out += t) } })).toBeUndefined();
  expect(out).toContain('Usage: authrail-sandbox');
  await expect(runCli(['--port', 'x'])).rejects.toThrow(/--port needs a whole number/);
  await expect(runCli(['--nope'])).rejects.toThrow(/unknown option/);
  await expect(runCli(['--lifetime', '0'])).rejects.toThrow(/at least 1/);
});
