// Test PKI made at test time with openssl (nothing private is committed), and a resource
// server over TLS that checks certificate-bound access tokens (RFC 8705 §3) the way an
// API gateway does: the JWT's signature, audience, and cnf["x5t#S256"] against the
// certificate the client presented on this connection.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

/** One certificate and its key, as PEM text and as files. */
export interface TestCertificate {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** SHA-256 of the DER, base64url: what a bound token's `cnf["x5t#S256"]` holds. */
  thumbprint: string;
}

/** A test CA, a server certificate for 127.0.0.1, and client certificates. */
export interface TestPki {
  dir: string;
  ca: TestCertificate;
  server: TestCertificate;
  /** Signed by the CA, SAN `DNS:client.authrail.test` (`tls_client_auth_san_dns`). */
  client: TestCertificate;
  /** Another one from the CA with the same SAN: the client's renewed certificate. */
  clientRenewed: TestCertificate;
  /** Self-signed (`self_signed_tls_client_auth`). */
  selfSigned: TestCertificate;
  /** Self-signed and registered nowhere. */
  stranger: TestCertificate;
  /** Removes the folder. */
  remove(): void;
}

export const CLIENT_SAN = 'client.authrail.test';

/** Creates a throwaway PKI with openssl (P-256 keys, 2 days) in a temporary folder. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'authrail-pki-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const load = (name: string): TestCertificate => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    const cert = readFileSync(certFile, 'utf8');
    return { cert, key: readFileSync(keyFile, 'utf8'), certFile, keyFile, thumbprint: thumbprintOf(cert) };
  };
  const selfSigned = (name: string, subject = `/CN=${name}`, extensions: string[] = []) => {
    const out = ['-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', subject];
    openssl('req', '-x509', ...ec, '-days', '2', ...out, ...extensions);
    return load(name);
  };
  const ca = selfSigned('ca', '/CN=Authrail Test CA', [
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const signed = (name: string, subject: string, extensions: string) => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
    return load(name);
  };
  const client = `subjectAltName=DNS:${CLIENT_SAN}\nextendedKeyUsage=clientAuth\n`;
  return {
    dir,
    ca,
    server: signed(
      'server',
      '/CN=127.0.0.1',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    ),
    client: signed('client', '/CN=authrail-client', client),
    clientRenewed: signed('client-renewed', '/CN=authrail-client', client),
    selfSigned: selfSigned('self-signed'),
    stranger: selfSigned('stranger'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function thumbprintOf(pem: string | X509Certificate): string {
  const cert = typeof pem === 'string' ? new X509Certificate(pem) : pem;
  return createHash('sha256').update(cert.raw).digest('base64url');
}

/** A public JWK with an `x5c`, for a `self_signed_tls_client_auth` client's `jwks`. */
export function jwkOfCertificate(pem: string): JsonWebKey & { x5c: string[] } {
  const cert = new X509Certificate(pem);
  return { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] };
}

export interface BoundResourceServer {
  url: string;
  /** Each request: the status answered and why. */
  seen: { status: number; reason: string }[];
  close(): Promise<void>;
}

/**
 * Starts an https API on 127.0.0.1 that asks for a client certificate and accepts an
 * RS256 JWT access token for `audience` only when its `cnf["x5t#S256"]` is the thumbprint
 * of the certificate on this connection; otherwise 401 `invalid_token`.
 */
export async function startBoundResourceServer(options: {
  tls: { key: string; cert: string };
  jwks: { keys: JsonWebKey[] };
  issuer: string;
  audience: string;
}): Promise<BoundResourceServer> {
  const seen: BoundResourceServer['seen'] = [];
  const server: Server = createServer(
    { key: options.tls.key, cert: options.tls.cert, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const presented = (req.socket as TLSSocket).getPeerX509Certificate();
      const reason = refusal(req.headers.authorization, presented, options);
      seen.push({ status: reason ? 401 : 200, reason: reason ?? 'ok' });
      if (reason) {
        res.writeHead(401, {
          'www-authenticate': `Bearer error="invalid_token", error_description="${reason}"`,
        });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, thumbprint: presented ? thumbprintOf(presented) : null }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Why a request is refused, or undefined when its token is good for this certificate. */
function refusal(
  authorization: string | undefined,
  presented: X509Certificate | undefined,
  expected: { jwks: { keys: JsonWebKey[] }; issuer: string; audience: string },
): string | undefined {
  const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return 'no bearer token';
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return 'not a JWT';
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid?: string };
  const jwk = expected.jwks.keys.find((k) => (k as { kid?: string }).kid === kid);
  if (!jwk) return 'unknown key';
  const key = createPublicKey({
    key: jwk as Parameters<typeof createPublicKey>[0] & object,
    format: 'jwk',
  } as never);
  if (!verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url')))
    return 'bad signature';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as {
    iss?: string;
    aud?: string | string[];
    exp?: number;
    cnf?: Record<string, string>;
  };
  if (claims.iss !== expected.issuer) return 'wrong issuer';
  if (![claims.aud].flat().includes(expected.audience)) return 'wrong audience';
  if (!claims.exp || claims.exp * 1000 < Date.now()) return 'expired';
  const bound = claims.cnf?.['x5t#S256'];
  if (!bound) return 'token not bound to a certificate';
  if (!presented || thumbprintOf(presented) !== bound) return 'certificate thumbprint mismatch';
  return undefined;
}
