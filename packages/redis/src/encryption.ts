/**
 * Encryption at rest for stored tokens: AES-256-GCM with a key id beside each value, so
 * the key can be rotated while values written with an older key are still read.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '@authrail/core';

/**
 * Keys for encryption at rest. Values are written with `current` and read with whichever
 * key their id names: to rotate, add the new key, make it `current`, and drop the old one
 * once every value written with it has expired (at most a token's lifetime).
 *
 * @example
 * ```ts
 * const encryption = { current: '2026-11', keys: { '2026-11': process.env.TOKEN_KEY! } };
 * ```
 */
export interface EncryptionOptions {
  /** The id of the key new values are written with. */
  current: string;
  /** Keys by id: 32 bytes each, as bytes or base64 text. */
  keys: Record<string, Uint8Array | string>;
}

/** An encrypted value as stored: key id, IV, ciphertext with its GCM tag, all base64. */
export interface Sealed {
  kid: string;
  iv: string;
  ct: string;
}

/** Encrypts and decrypts token records, bound to the key they are stored under. */
export interface Cipher {
  seal(plaintext: string, key: string): Sealed;
  /** The plaintext, or undefined when the value cannot be read (unknown key id, tampered). */
  open(sealed: Sealed, key: string): string | undefined;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyBytes(value: unknown, id: string): Buffer {
  const bytes =
    typeof value === 'string'
      ? Buffer.from(value, 'base64')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : undefined;
  if (!bytes || bytes.length !== KEY_BYTES) {
    // The id is named, never the value.
    throw new ConfigError(`key "${id}" must be ${KEY_BYTES} bytes (as bytes or base64 text)`, {
      option: 'encryption',
    });
  }
  return bytes;
}

/** Checks the options and builds the cipher; undefined when there is no encryption. */
export function createCipher(options: EncryptionOptions | undefined): Cipher | undefined {
  if (options === undefined) return undefined;
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.keys !== 'object' ||
    options.keys === null
  )
    throw new ConfigError('must be { current, keys }', { option: 'encryption' });
  const keys = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(options.keys)) keys.set(id, keyBytes(value, id));
  if (typeof options.current !== 'string' || !keys.has(options.current))
    throw new ConfigError('current must name one of keys', { option: 'encryption' });
  const current = options.current;
  return {
    seal(plaintext, key) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keys.get(current)!, iv);
      // The store key is authenticated too: a value copied under another key does not open.
      cipher.setAAD(Buffer.from(key));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return { kid: current, iv: iv.toString('base64'), ct: ct.toString('base64') };
    },
    open(sealed, key) {
      const secret = keys.get(sealed.kid);
      if (!secret) return undefined;
      try {
        const data = Buffer.from(sealed.ct, 'base64');
        const decipher = createDecipheriv('aes-256-gcm', secret, Buffer.from(sealed.iv, 'base64'));
        decipher.setAAD(Buffer.from(key));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(data.subarray(0, data.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
