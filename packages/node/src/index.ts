/**
 * `@authrail/node`: the parts of authrail that only Node can run. Mutual TLS (RFC 8705):
 * {@link createMtlsFetch} returns a `fetch` that presents a client certificate, for the
 * token endpoint (with `tlsClientAuth()` / `selfSignedTlsClientAuth()` of
 * `@authrail/oauth2`) and for the API, and that picks up a rotated certificate without a
 * restart.
 *
 * @example
 * ```ts
 * import { createMtlsFetch } from '@authrail/node';
 *
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
