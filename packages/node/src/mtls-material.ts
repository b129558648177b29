// Reading a client certificate, its key and the server CA from where the caller keeps
// them (values, files, functions), and checking that they belong together before any
// connection is made with them.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { AuthrailError, ConfigError, ErrorCodes, isAuthrailError } from '@authrail/core';

/**
 * Where PEM text comes from: the PEM itself (a string containing `-----BEGIN `, or its
 * bytes), a file path (any other string), or a function that returns the PEM (a secret
 * manager). Files and functions are read again to pick up a rotated certificate.
 */
export type PemSource = string | Uint8Array | (() => string | Uint8Array | Promise<string | Uint8Array>);

/** Which part of the TLS material a {@link ClientCertificateError} is about. */
export type CertificatePart = 'cert' | 'key' | 'ca';

/**
 * A client certificate or its key could not be read, is not PEM, or the key does not
 * belong to the certificate. The message names the part and, for files, the path; it
 * never contains key material.
 *
 * @example
 * ```ts
 * try { await tls.certificate(); } catch (err) {
 *   if (err instanceof ClientCertificateError) console.error(err.part, err.message);
 * }
 * ```
 */
export class ClientCertificateError extends AuthrailError {
  /** Always `'ClientCertificateError'`. */
  override readonly name = 'ClientCertificateError';
  /** The part that failed: `cert`, `key` or `ca`. */
  readonly part: CertificatePart;

  constructor(part: CertificatePart, message: string, options: { cause?: unknown; secrets?: string[] } = {}) {
    super(ErrorCodes.CLIENT_CERTIFICATE, `${part}: ${message}`, options);
    this.part = part;
  }
}

/** Reads a source's PEM text (a file only when its stat changed). */
interface PemReader {
  (): Promise<string>;
  /** A value given directly: never read again. */
  readonly fixed: boolean;
}

const PEM_MARK = '-----BEGIN ';

/**
 * Checks a {@link PemSource} at construction and returns its reader. A file is read
 * again only when its stat (inode, size, times) changed, so a check costs one `stat`.
 *
 * @throws `ConfigError` naming `option`
 */
export function pemReader(source: unknown, part: CertificatePart): PemReader {
  if (source instanceof Uint8Array) return fixed(Buffer.from(source).toString('utf8'), part);
  if (typeof source === 'string') {
    if (source.length === 0)
      throw new ConfigError('must be PEM text, a file path or a function', { option: part });
    return source.includes(PEM_MARK) ? fixed(source, part) : fileReader(source, part);
  }
  if (typeof source === 'function') return functionReader(source as () => unknown, part);
  throw new ConfigError('must be PEM text, a file path or a function', { option: part });
}

function fixed(pem: string, part: CertificatePart): PemReader {
  if (!pem.includes(PEM_MARK))
    throw new ConfigError('is not PEM text (no -----BEGIN line)', { option: part });
  return Object.assign(() => Promise.resolve(pem), { fixed: true });
}

function fileReader(path: string, part: CertificatePart): PemReader {
  let seen: { signature: string; pem: string } | undefined;
  const read = async (): Promise<string> => {
    try {
      // stat follows symlinks: a Kubernetes secret volume swaps a `..data` link, and the
      // file behind the link changes inode.
      const info = await stat(path);
      const signature = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
      if (seen?.signature === signature) return seen.pem;
      const pem = await readFile(path, 'utf8');
      seen = { signature, pem };
      return pem;
    } catch (error) {
      throw new ClientCertificateError(
        part,
        `could not read ${path} (${(error as { code?: string }).code ?? 'error'})`,
      );
    }
  };
  return Object.assign(read, { fixed: false });
}

function functionReader(source: () => unknown, part: CertificatePart): PemReader {
  const read = async (): Promise<string> => {
    let value: unknown;
    try {
      value = await source();
    } catch (error) {
      if (isAuthrailError(error)) throw error;
      // The function's own error may quote what it read: kept only as a scrubbed cause.
      throw new ClientCertificateError(part, 'the function that reads it failed', { cause: error });
    }
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (typeof value === 'string') return value;
    throw new ClientCertificateError(part, 'the function that reads it returned no PEM text or bytes');
  };
  return Object.assign(read, { fixed: false });
}

/** A certificate and key that belong together, ready for a TLS connection. */
export interface Material {
  cert: string;
  key: string;
  ca: string | undefined;
  /** Identity of this material: a new one means a new connection pool. */
  fingerprint: string;
  /** What {@link ClientCertificateInfo} shows. */
  info: ClientCertificateInfo;
}

/** The client certificate in use, as `certificate()` of an {@link MtlsFetch} shows it. */
export interface ClientCertificateInfo {
  /**
   * The SHA-256 thumbprint of the certificate (DER), base64url: what a
   * certificate-bound access token carries as `cnf["x5t#S256"]` (RFC 8705 §3.1).
   */
  thumbprint: string;
  /** The certificate's subject, as Node prints it (`CN=…`). */
  subject: string;
  /** The end of the certificate's validity. */
  validTo: Date;
}

/**
 * Parses and pairs the material: the first certificate of `cert` is the client's, and
 * `key` must be its private key (a file pair caught mid-rotation fails here, not in a
 * handshake).
 *
 * @throws `ClientCertificateError` naming the part
 */
export function materialOf(
  cert: string,
  key: string,
  ca: string | undefined,
  passphrase: string | undefined,
): Material {
  const secrets = [key, ...(passphrase ? [passphrase] : [])];
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new ClientCertificateError('cert', 'is not a PEM certificate', { cause: error, secrets });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(passphrase ? { key, passphrase } : key);
  } catch (error) {
    throw new ClientCertificateError('key', 'is not a PEM private key (or its passphrase is wrong)', {
      cause: error,
      secrets,
    });
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new ClientCertificateError(
      'key',
      `does not belong to the certificate ${x509.subject.replace(/\n/g, ', ')}`,
      { secrets },
    );
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new ClientCertificateError('ca', 'is not a PEM certificate', { cause: error });
    }
  }
  const fingerprint = createHash('sha256')
    .update(cert)
    .update('\0')
    .update(key)
    .update('\0')
    .update(ca ?? '')
    .digest('base64url');
  return {
    cert,
    key,
    ca,
    fingerprint,
    info: {
      thumbprint: createHash('sha256').update(x509.raw).digest('base64url'),
      subject: x509.subject.replace(/\n/g, ', '),
      validTo: new Date(x509.validTo),
    },
  };
}
