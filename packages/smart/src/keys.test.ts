// The key helpers and the authrail-smart command: keys that SMART servers accept, JWKS
// with no private member, imports that never echo key material.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError } from '@authrail/core';
import { algorithmOf, generateSigningKey, importPrivateKey, publicJwks } from '@authrail/smart';
import { spawnTs } from '@authrail/test-utils';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

describe('key helpers', () => {
  test.each(['ES384', 'RS384'] as const)(
    '%s: a pair whose kid is its thumbprint, a JWKS with only public members',
    async (alg) => {
      const key = await generateSigningKey({ alg });
      expect(key.alg).toBe(alg);
      expect(algorithmOf(key.privateKey)).toBe(alg);
      expect(key.kid).toMatch(/^[\w-]{43}$/); // base64url of a SHA-256
      expect((await generateSigningKey({ alg, kid: 'mine' })).kid).toBe('mine');
      const jwks = await publicJwks([key]);
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({
        kid: key.kid,
        alg,
        use: 'sig',
        kty: alg === 'ES384' ? 'EC' : 'RSA',
      });
      for (const member of PRIVATE_MEMBERS) expect(jwks.keys[0]).not.toHaveProperty(member);
    },
  );

  test('a signature by the imported key verifies with the published public key', async () => {
    const key = await generateSigningKey({ alg: 'RS384' });
    const privateJwk = await crypto.subtle.exportKey('jwk', key.privateKey);
    const imported = await importPrivateKey({ ...privateJwk, kid: key.kid });
    expect(imported.kid).toBe(key.kid);
    expect(imported.key.extractable).toBe(false);
    const data = new TextEncoder().encode('header.claims');
    const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', imported.key, data);
    const [published] = (await publicJwks([key])).keys;
    const verifier = await crypto.subtle.importKey(
      'jwk',
      published!,
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
      false,
      ['verify'],
    );
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', verifier, signature, data)).toBe(true);
  });

  test('a PKCS#8 PEM, as openssl writes it, imports with its alg', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const imported = await importPrivateKey(pem, { alg: 'ES384', kid: 'pem-1' });
    expect(algorithmOf(imported.key)).toBe('ES384');
    expect(imported.kid).toBe('pem-1');
  });

  test('bad input fails naming the option, and never shows the key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const error = await importPrivateKey(pem, { alg: 'ES384' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'privateKey' });
    expect(String(error)).not.toContain(pem.split('\n')[1]!);
    await expect(importPrivateKey('-----BEGIN PRIVATE KEY-----\nxx')).rejects.toMatchObject({
      option: 'alg',
    });
    const publicOnly = (await publicJwks([await generateSigningKey()])).keys[0]!;
    await expect(importPrivateKey(publicOnly)).rejects.toMatchObject({ option: 'privateKey' });
    await expect(generateSigningKey({ alg: 'ES256' as never })).rejects.toMatchObject({ option: 'alg' });
    const pair = await generateSigningKey();
    await expect(publicJwks([{ publicKey: pair.privateKey, kid: 'k' }])).rejects.toMatchObject({
      option: 'keys',
    });
  });
});

describe('authrail-smart', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'authrail-smart-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawnTs('packages/smart/src/cli.ts', { args });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  test('keygen writes the private JWK (owner-only, never over an existing file) and prints the public JWKS; jwks prints it again', async () => {
    const file = join(dir, 'key.json');
    const made = await run(['keygen', '--alg', 'RS384', '--kid', 'cli-1', '--out', file]);
    expect(made.code).toBe(0);
    const jwks = JSON.parse(made.stdout) as { keys: Record<string, unknown>[] };
    expect(jwks.keys[0]).toMatchObject({ kid: 'cli-1', alg: 'RS384', use: 'sig', kty: 'RSA' });
    for (const member of PRIVATE_MEMBERS) expect(jwks.keys[0]).not.toHaveProperty(member);
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({ kid: 'cli-1', alg: 'RS384', kty: 'RSA' });
    expect(typeof saved.d).toBe('string');
    expect((await stat(file)).mode & 0o077).toBe(0);
    // The saved key signs for the strategy.
    expect(algorithmOf((await importPrivateKey(saved as JsonWebKey)).key)).toBe('RS384');

    const again = await run(['keygen', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('EEXIST');

    const printed = await run(['jwks', file]);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(jwks);
  });

  test('jwks reads a PKCS#8 PEM; bad usage exits 2 with the help', async () => {
    const pemFile = join(dir, 'key.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await writeFile(pemFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const printed = await run(['jwks', pemFile, '--kid', 'pem-key']);
    expect(printed.code).toBe(0);
    expect((JSON.parse(printed.stdout) as { keys: unknown[] }).keys).toEqual([
      expect.objectContaining({ kid: 'pem-key', alg: 'ES384', kty: 'EC', crv: 'P-384' }),
    ]);
    const usage = await run(['keygen']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--out FILE');
    expect((await run(['rotate'])).code).toBe(2);
    const p256 = join(dir, 'p256.pem');
    await writeFile(
      p256,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    const wrong = await run(['jwks', p256]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('RS384 or ES384');
  });
});
