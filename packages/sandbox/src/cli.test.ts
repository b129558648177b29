import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runCli } from '@authrail/sandbox';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
/** tsx's loader, as this package resolves it. */
const tsx = import.meta.resolve('tsx');

describe('runCli', () => {
  test('prints every URL and the demo credentials, serves, and closes', async () => {
    let out = '';
    const handle = await runCli(['--port', '0', '--lifetime', '120'], {
      stdout: { write: (t: string) => (out += t) },
    });
    expect(handle).toBeDefined();
    const { sandbox } = handle!;
    for (const url of [
      sandbox.url,
      sandbox.urls.mskApim.tokenEndpoint,
      sandbox.urls.mskApim.fhirBaseUrl,
      sandbox.urls.okta.issuer,
      sandbox.urls.okta.tokenEndpoint,
      sandbox.urls.ctrp.baseUrl,
      sandbox.urls.medblocks.tokenEndpoint,
      sandbox.urls.medblocks.authorizeEndpoint,
      sandbox.urls.medblocks.revocationEndpoint,
      sandbox.urls.medblocks.fhirBaseUrl,
      sandbox.urls.echo,
      sandbox.urls.elsewhere,
    ]) {
      expect(out).toContain(url);
    }
    expect(out).toContain('msk-demo-client / msk-demo-secret');
    expect(out).toContain('workload ctrp-demo-workload (no secret: JWT bearer grant');
    expect(out).toContain('ctrp-demo-client / ctrp-demo-secret');
    expect(out).toContain('medblocks-demo-backend / medblocks-demo-secret');
    expect(out).toContain('medblocks-demo-spa');
    expect(out).toContain('demo / demo');
    expect(out).toContain('tokens live 120 s');
    const token = await fetch(sandbox.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'ctrp.read',
        client_id: 'ctrp-demo-client',
        client_secret: 'ctrp-demo-secret',
      }),
    });
    expect(await token.json()).toMatchObject({ expires_in: 120 });
    await handle!.close();
    await expect(fetch(sandbox.url)).rejects.toThrow(TypeError);
  });

  test('--port=N and --lifetime=N forms work', async () => {
    const handle = await runCli(['--port=0', '--lifetime=5'], { stdout: { write: () => true } });
    try {
      expect(handle?.sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await handle?.close();
    }
  });

  test('--help prints usage and starts nothing; bad options are refused', async () => {
    let out = '';
    expect(await runCli(['--help'], { stdout: { write: (t: string) => (out += t) } })).toBeUndefined();
    expect(out).toContain('Usage: authrail-sandbox');
    expect(out).toContain('default 4010');
    await expect(runCli(['--port', 'x'])).rejects.toThrow(/--port needs a whole number/);
    await expect(runCli(['--port'])).rejects.toThrow(/--port needs a whole number/);
    await expect(runCli(['--port', '70000'])).rejects.toThrow(/at most 65535/);
    await expect(runCli(['--nope'])).rejects.toThrow(/unknown option/);
    await expect(runCli(['--lifetime', '0'])).rejects.toThrow(/at least 1/);
  });
});

describe('the authrail-sandbox command', () => {
  test('package.json points the bin at the committed shim, which loads dist/cli.js', async () => {
    const pkg = JSON.parse(await readFile(`${packageDir}package.json`, 'utf8')) as {
      bin: Record<string, string>;
      files: string[];
    };
    expect(pkg.bin).toEqual({ 'authrail-sandbox': './bin/authrail-sandbox.js' });
    expect(pkg.files).toContain('bin');
    const shim = await readFile(`${packageDir}bin/authrail-sandbox.js`, 'utf8');
    expect(shim.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(shim).toContain("import('../dist/cli.js')");
  });

  test('a real process: prints the URLs, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', tsx, 'src/cli.ts', '--port', '0'], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (match && out.includes('Ctrl+C')) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    expect(out).toContain(`${url}/oauth2/default/v1/token`);
    expect((await fetch(`${url}/medblocks/.well-known/openid-configuration`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(url)).rejects.toThrow(TypeError);
  }, 20_000);

  test('a real process with a bad option exits 2 with a message', async () => {
    const child = spawn(process.execPath, ['--import', tsx, 'src/cli.ts', '--bogus'], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('authrail-sandbox: unknown option --bogus');
  }, 20_000);
});
