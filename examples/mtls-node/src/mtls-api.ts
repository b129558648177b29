// The part of the example a service would keep: one mTLS fetch for the token endpoint
// and for the API, so a certificate-bound token always travels with its certificate.
import { createAuthStrategy, type TokenAuthStrategy } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { createMtlsFetch, type MtlsFetch, type PemSource } from '@authrail/node';
import { clientCredentials, selfSignedTlsClientAuth, tlsClientAuth } from '@authrail/oauth2';

export interface MtlsApiOptions {
  /** The authorization server's issuer (discovery gives the token endpoint and its mTLS alias). */
  issuer: string;
  clientId: string;
  /** How the server registered the client. */
  method: 'tls_client_auth' | 'self_signed_tls_client_auth';
  /** The client certificate and key: file paths here, read again when they change. */
  cert: PemSource;
  key: PemSource;
  /** The CA of the servers' certificates, for a private PKI. */
  ca?: PemSource;
  /** The API's origin: the only one the token is sent to. */
  apiOrigin: string;
  /** The RFC 8707 resource the token is for, when the server wants one. */
  resource?: string;
  /** The scope to ask for, when the server wants one (Okta does). */
  scope?: string;
  /** How long a read of the files is trusted, ms. */
  recheckMs?: number;
}

export interface MtlsApi {
  /** fetch for the API: the token and the certificate on every request. */
  api: typeof fetch;
  tls: MtlsFetch;
  strategy: TokenAuthStrategy;
}

export function mtlsApi(options: MtlsApiOptions): MtlsApi {
  const tls = createMtlsFetch({
    cert: options.cert,
    key: options.key,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.recheckMs === undefined ? {} : { recheckMs: options.recheckMs }),
  });
  const strategy = createAuthStrategy({
    source: clientCredentials({
      server: { issuer: options.issuer, discovery: true },
      clientId: options.clientId,
      clientAuth: options.method === 'tls_client_auth' ? tlsClientAuth() : selfSignedTlsClientAuth(),
      ...(options.resource ? { resource: options.resource } : {}),
      ...(options.scope ? { scope: options.scope } : {}),
      fetch: tls,
    }),
    origins: [options.apiOrigin],
  });
  return { api: createAuthFetch(strategy, { fetch: tls }), tls, strategy };
}
