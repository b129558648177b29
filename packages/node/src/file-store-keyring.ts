/**
 * The file store's encryption: the caller's keys, or a key derived from their passphrase
 * with scrypt and a salt stored in each file. Both seal with the one token cipher.
 *
 * @module
 */
import { randomBytes, scrypt } from 'node:crypto';
import { createTokenCipher, isSealedValue, type EncryptionOptions, type TokenCipher } from './encryption.js';

/** scrypt's cost, as OWASP's password storage cheat sheet sets its minimum: 128 MiB, about 0.7 s on a small VM. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 256 * 1024 * 1024;
const SALT_BYTES = 16;
/** The key id of values sealed with a passphrase's key. */
const PASSPHRASE_KID = 'passphrase';

/** What a token file holds: a sealed value, and with a passphrase how its key was derived. */
interface FileBody {
  v: 1;
  kdf?: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  kid: string;
  iv: string;
  ct: string;
}

/** Seals token records into file bodies and opens them again. */
export interface Keyring {
  seal(plaintext: string, key: string): Promise<FileBody>;
  /** The plaintext, or why it cannot be read (never a secret). */
  open(body: unknown, key: string): Promise<string | { unreadable: string }>;
}

/** The caller's keys: rotation as `EncryptionOptions` has it. */
export function keysKeyring(encryption: EncryptionOptions): Keyring {
  const cipher = createTokenCipher(encryption);
  return {
    seal: (plaintext, key) => Promise.resolve({ v: 1, ...cipher.seal(plaintext, key) }),
    open(body, key) {
      if (!isSealedValue(body)) return Promise.resolve({ unreadable: 'it is not a token file' });
      if ((body as Partial<FileBody>).kdf)
        return Promise.resolve({ unreadable: 'it was written with a passphrase, and this store has keys' });
      const plaintext = cipher.open(body, key);
      return Promise.resolve(plaintext ?? { unreadable: `key "${body.kid}" does not open it` });
    },
  };
}

function derive(passphrase: string, salt: string): Promise<TokenCipher> {
  return new Promise((resolve, reject) =>
    scrypt(
      passphrase.normalize('NFC'),
      Buffer.from(salt, 'base64'),
      32,
      { ...SCRYPT, maxmem: SCRYPT_MAXMEM },
      (error, key) =>
        error
          ? reject(error)
          : resolve(createTokenCipher({ current: PASSPHRASE_KID, keys: { [PASSPHRASE_KID]: key } })),
    ),
  );
}

/**
 * A passphrase: each file carries the salt its key was derived with. A process writes with
 * the salt of the first file it opened (or a new one), so a run derives once.
 */
export function passphraseKeyring(passphrase: string): Keyring {
  const ciphers = new Map<string, Promise<TokenCipher>>();
  let writeSalt: string | undefined;
  const cipherFor = (salt: string) => {
    let cipher = ciphers.get(salt);
    if (!cipher) ciphers.set(salt, (cipher = derive(passphrase, salt)));
    return cipher;
  };
  return {
    async seal(plaintext, key) {
      writeSalt ??= randomBytes(SALT_BYTES).toString('base64');
      const salt = writeSalt;
      const sealed = (await cipherFor(salt)).seal(plaintext, key);
      return { v: 1, kdf: { name: 'scrypt', ...SCRYPT, salt }, ...sealed };
    },
    async open(body, key) {
      if (!isSealedValue(body)) return { unreadable: 'it is not a token file' };
      const kdf = (body as Partial<FileBody>).kdf;
      // Only the parameters this version writes: a planted file must not make us derive at any cost.
      if (
        typeof kdf !== 'object' ||
        kdf === null ||
        kdf.name !== 'scrypt' ||
        kdf.N !== SCRYPT.N ||
        kdf.r !== SCRYPT.r ||
        kdf.p !== SCRYPT.p ||
        typeof kdf.salt !== 'string' ||
        Buffer.from(kdf.salt, 'base64').length !== SALT_BYTES
      )
        return { unreadable: 'it was not written with a passphrase (or with other scrypt parameters)' };
      const plaintext = (await cipherFor(kdf.salt)).open(body, key);
      if (plaintext === undefined) return { unreadable: 'the passphrase does not open it' };
      writeSalt ??= kdf.salt;
      return plaintext;
    },
  };
}
