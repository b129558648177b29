// The sandbox's own TLS tests: a throwaway PKI made with openssl (nothing private is
// committed) and requests over node:https with or without a client certificate.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, PEM, with its thumbprint (SHA-256 of the DER, base64url). */
export interface Pem {
  cert: string;
  key: string;
  thumbprint: string;
}

/** The registered DNS SAN of the test client's certificates. */
export const CLIENT_SAN = 'client.sandbox.test';

/**
 * A CA, a server certificate for 127.0.0.1, two client certificates from the CA with
 * {@link CLIENT_SAN} (the second is a renewal), one from the CA with another SAN, and a
 * self-signed one with the right SAN.
 */
export function createPki(): {
  ca: Pem;
  server: Pem;
  client: Pem;
  renewed: Pem;
  otherSan: Pem;
  selfSigned: Pem;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-pki-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const load = (name: string): Pem => {
    const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
    const raw = new X509Certificate(cert).raw;
    const thumbprint = createHash('sha256').update(raw).digest('base64url');
    return { cert, key: readFileSync(join(dir, `${name}.key`), 'utf8'), thumbprint };
  };
  const selfSigned = (name: string, ext: string[]) => {
    openssl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '2',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      ...ext,
    );
    return load(name);
  };
  const ca = selfSigned('ca', [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=keyCertSign',
  ]);
  const signed = (name: string, extensions: string) => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
      ...['-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`],
    );
    return load(name);
  };
  const client = `subjectAltName=DNS:${CLIENT_SAN}\nextendedKeyUsage=clientAuth\n`;
  return {
    ca,
    server: signed('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: signed('client', client),
    renewed: signed('renewed', client),
    otherSan: signed('other', 'subjectAltName=DNS:other.sandbox.test\nextendedKeyUsage=clientAuth\n'),
    selfSigned: selfSigned('self', ['-addext', `subjectAltName=DNS:${CLIENT_SAN}`]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An answer read whole. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over node:https, trusting `ca`, presenting `client` when given; a fresh connection each time. */
export function httpsCall(
  url: string,
  options: { ca: string; client?: Pem; method?: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        agent: false,
        ...(options.client ? { cert: options.client.cert, key: options.client.key } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
