/**
 * Encryption at rest for stored tokens: AES-256-GCM with a key id beside each value, so
 * the key can be rotated while values written with an older key are still read. The file
 * store and `@authrail/redis` both seal with it.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '@authrail/core';

/**
 * Keys for encryption at rest. Values are written with `current` and read with whichever
 * key their id names: to rotate, add the new key, make it `current`, and drop the old one
 * once every value written with it has been replaced (a token store rewrites a value at
 * each refresh).
 *
 * @example
 * ```ts
 * const encryption = { current: '2026-11', keys: { '2026-11': process.env.TOKEN_KEY! } };
 * ```
 */
export interface EncryptionOptions {
  /** The id of the key new values are written with. */
  current: string;
  /** Keys by id: 32 bytes each, as bytes or base64 text (`openssl rand -base64 32`). */
  keys: Record<string, Uint8Array | string>;
}

/** A value as a {@link TokenCipher} seals it: key id, IV, ciphertext with its GCM tag, all base64. */
export interface SealedValue {
  /** The id of the key it was sealed with. */
  kid: string;
  /** The 96-bit IV, base64. */
  iv: string;
  /** The ciphertext followed by the 128-bit GCM tag, base64. */
  ct: string;
}

/** Seals and opens token records, each bound to the store key it is kept under. */
export interface TokenCipher {
  /** Encrypts `plaintext` with the current key; `key` (the store key) is authenticated, not stored. */
  seal(plaintext: string, key: string): SealedValue;
  /**
   * The plaintext, or undefined when the value cannot be read: an unknown key id, another
   * store key, a wrong key, or a tampered value. Never throws.
   */
  open(sealed: SealedValue, key: string): string | undefined;
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

/**
 * Checks encryption options and builds the cipher a token store seals its values with:
 * AES-256-GCM, a random 96-bit IV per value, the store key as additional authenticated
 * data (a value copied under another key does not open), and the key id beside each value
 * so that keys rotate without losing what is stored.
 *
 * @param options - the keys and the id of the current one
 * @returns the cipher
 * @throws `ConfigError` (from `@authrail/core`) naming `encryption` when a key is not 32
 *   bytes or `current` names no key; the message names the key's id, never its value
 * @example
 * ```ts
 * const cipher = createTokenCipher({ current: 'k1', keys: { k1: process.env.TOKEN_KEY! } });
 * const sealed = cipher.seal(JSON.stringify({ accessToken: 'abc' }), 'authrail:v1:…');
 * cipher.open(sealed, 'authrail:v1:…'); // the JSON again
 * ```
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
export function createTokenCipher(options: EncryptionOptions): TokenCipher {
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

/**
 * Whether `value` has the shape of a {@link SealedValue}: for a store reading back what it
 * parsed from storage, before it asks the cipher to open it.
 *
 * @example
 * ```ts
 * const parsed: unknown = JSON.parse(stored);
 * const json = isSealedValue(parsed) ? cipher.open(parsed, key) : undefined;
 * ```
 */
export function isSealedValue(value: unknown): value is SealedValue {
  const v = value as Partial<SealedValue> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.kid === 'string' &&
    typeof v.iv === 'string' &&
    typeof v.ct === 'string'
  );
}
