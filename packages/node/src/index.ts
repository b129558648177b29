/**
 * `@authrail/node`: authrail features that need Node.js. A token store in files, so a
 * script's sign-in survives the process (encrypted at rest, 0600, atomic writes, one
 * refresh across the processes that start together); the AES-256-GCM encryption at
 * rest with rotating keys that `@authrail/redis` shares; and mutual TLS (RFC 8705):
 * {@link createMtlsFetch} returns a `fetch` that presents a client certificate, for the
 * token endpoint (with `tlsClientAuth()` / `selfSignedTlsClientAuth()` of
 * `@authrail/oauth2`) and for the API, and picks up a rotated certificate without a restart.
 *
 * @example
 * ```ts
 * import { createFileTokenStore, createMtlsFetch } from '@authrail/node';
 *
 * const store = createFileTokenStore({ passphrase: process.env.AUTHRAIL_CACHE_PASSPHRASE! });
 * const tls = createMtlsFetch({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key' });
 * const response = await tls('https://mtls.example.org/health');
 * await tls.close();
 * ```
 *
 * @packageDocumentation
 */
export { createMtlsFetch, type MtlsFetch, type MtlsFetchOptions } from './mtls.js';
export {
  ClientCertificateError,
  type CertificatePart,
  type ClientCertificateInfo,
  type PemSource,
} from './mtls-material.js';
export {
  createTokenCipher,
  isSealedValue,
  type EncryptionOptions,
  type SealedValue,
  type TokenCipher,
} from './encryption.js';
export { createFileTokenStore, type FileTokenStore, type FileTokenStoreOptions } from './file-store.js';
export { defaultTokenCacheDirectory, type CacheDirectoryContext } from './file-store-paths.js';
