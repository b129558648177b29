#!/usr/bin/env node
// The `authrail-smart` command: creates a SMART Backend Services key pair for development
// (`keygen`) and prints the public JWKS of private keys to register with a FHIR server
// (`jwks`). Bad usage exits with code 2, an unreadable key with code 1.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { generateSigningKey, publicJwks, thumbprint, type SmartAlgorithm } from './keys.js';

const HELP = `authrail-smart: keys for SMART on FHIR Backend Services

  authrail-smart keygen --out FILE [--alg ES384|RS384] [--kid KID]
      Creates a key pair (ES384 by default), writes the private key to FILE as a JWK
      (readable by you only; an existing file is never overwritten) and prints the
      public JWKS to register with the FHIR server.

  authrail-smart jwks FILE... [--kid KID]
      Prints the public JWKS of private keys: JWK files (as keygen writes) or PKCS#8
      PEM files (BEGIN PRIVATE KEY). The kid is the JWK's own, --kid (one file), or the
      RFC 7638 thumbprint.
`;

class UsageError extends Error {}

function algorithmOfKey(key: KeyObject, file: string): SmartAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS384';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  throw new Error(`${file}: not an RSA or P-384 key (SMART signs with RS384 or ES384)`);
}

async function keygen(values: { out?: string; alg?: string; kid?: string }): Promise<string> {
  if (!values.out) throw new UsageError('keygen needs --out FILE for the private key');
  const alg = (values.alg ?? 'ES384') as SmartAlgorithm;
  if (alg !== 'ES384' && alg !== 'RS384') throw new UsageError('--alg must be ES384 or RS384');
  const key = await generateSigningKey({ alg, ...(values.kid ? { kid: values.kid } : {}) });
  const privateJwk = { ...(await crypto.subtle.exportKey('jwk', key.privateKey)), kid: key.kid, alg };
  delete privateJwk.key_ops;
  delete privateJwk.ext;
  // 'wx': never overwrite a key that may already be registered somewhere.
  await writeFile(values.out, `${JSON.stringify(privateJwk, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  return JSON.stringify(await publicJwks([key]), null, 2);
}

async function jwks(files: string[], kid: string | undefined): Promise<string> {
  if (files.length === 0) throw new UsageError('jwks needs at least one private key file');
  if (kid && files.length > 1) throw new UsageError('--kid names one key: give one file');
  const keys = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const trimmed = text.trim();
    const jwk = trimmed.startsWith('{') ? (JSON.parse(trimmed) as JsonWebKey & { kid?: string }) : undefined;
    let privateKey: KeyObject;
    try {
      privateKey = jwk
        ? createPrivateKey({ key: jwk as Record<string, string>, format: 'jwk' })
        : createPrivateKey(trimmed);
    } catch {
      throw new Error(`${file}: not a private JWK or PKCS#8 PEM key`);
    }
    const alg = algorithmOfKey(privateKey, file);
    const exported = createPublicKey(privateKey).export({ format: 'jwk' });
    const publicKey = await crypto.subtle.importKey(
      'jwk',
      exported,
      alg === 'RS384'
        ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }
        : { name: 'ECDSA', namedCurve: 'P-384' },
      true,
      ['verify'],
    );
    const named = kid ?? jwk?.kid ?? (await thumbprint(exported));
    keys.push({ publicKey, kid: named });
  }
  return JSON.stringify(await publicJwks(keys), null, 2);
}

try {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      alg: { type: 'string' },
      kid: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
  } else if (command === 'keygen') {
    process.stdout.write(`${await keygen(values)}\n`);
  } else if (command === 'jwks') {
    process.stdout.write(`${await jwks(rest, values.kid)}\n`);
  } else {
    throw new UsageError(`unknown command ${command}`);
  }
} catch (error) {
  const usage =
    error instanceof UsageError || (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
  process.stderr.write(`authrail-smart: ${error instanceof Error ? error.message : String(error)}\n`);
  if (usage) process.stderr.write(HELP);
  process.exitCode = usage ? 2 : 1;
}
