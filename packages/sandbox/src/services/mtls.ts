// Mutual TLS (RFC 8705) in TLS mode: the client certificate on a request's connection,
// `tls_client_auth` by a registered DNS SAN, and the check of certificate-bound tokens.
import { createHash, type X509Certificate } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import type { Exchange } from '../http.js';

/** The client certificate of a request's connection, if it presented one. */
export interface PeerCertificate {
  /** SHA-256 of the DER, base64url: what a bound token's `cnf["x5t#S256"]` holds. */
  thumbprint: string;
  /** It chains to the CA the sandbox was given (`tls.ca`). */
  chained: boolean;
  /** Its DNS subject alternative names. */
  dnsNames: string[];
}

function dnsNamesOf(cert: X509Certificate): string[] {
  // `subjectAltName` reads `DNS:a, IP Address:…`; a name with a comma is quoted and skipped.
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/** The client certificate on this request's connection (TLS mode), if any. */
export function peerCertificate(req: Exchange['req']): PeerCertificate | undefined {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerX509Certificate();
  if (!cert) return undefined;
  return {
    thumbprint: createHash('sha256').update(cert.raw).digest('base64url'),
    chained: socket.authorized,
    dnsNames: dnsNamesOf(cert),
  };
}

/**
 * `tls_client_auth` (RFC 8705 §2.1): the certificate must chain to the sandbox's CA and
 * carry the client's registered DNS SAN. Returns the thumbprint its tokens are bound to,
 * or why the client is refused.
 */
export function tlsClientAuthOf(ex: Exchange, sanDns: string): { thumbprint: string } | { refused: string } {
  const peer = peerCertificate(ex.req);
  if (!peer) return { refused: 'The client must present its certificate (tls_client_auth)' };
  if (!peer.chained) return { refused: 'The client certificate is not issued by a trusted CA' };
  if (!peer.dnsNames.includes(sanDns))
    return { refused: 'The client certificate is not the one registered for this client' };
  return { thumbprint: peer.thumbprint };
}

/** The `https:` or `http:` of a request, for URLs the client signed (DPoP's `htu`). */
export function schemeOf(req: Exchange['req']): 'https' | 'http' {
  return req.socket instanceof TLSSocket ? 'https' : 'http';
}
