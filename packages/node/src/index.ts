/**
 * `@authrail/node`: authrail features that need Node.js. A token store in files, so a
 * script's sign-in survives the process (encrypted at rest, 0600, atomic writes, one
 * refresh across the processes that start together), and the AES-256-GCM encryption at
 * rest with rotating keys that `@authrail/redis` shares.
 *
 * @example
 * ```ts
 * import { createFileTokenStore } from '@authrail/node';
 *
 * const store = createFileTokenStore({ passphrase: process.env.AUTHRAIL_CACHE_PASSPHRASE! });
 * ```
 *
 * @packageDocumentation
 */
export {
  createTokenCipher,
  isSealedValue,
  type EncryptionOptions,
  type SealedValue,
  type TokenCipher,
} from './encryption.js';
export { createFileTokenStore, type FileTokenStore, type FileTokenStoreOptions } from './file-store.js';
export { defaultTokenCacheDirectory, type CacheDirectoryContext } from './file-store-paths.js';
