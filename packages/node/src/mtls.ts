// A fetch that carries a client certificate (mutual TLS, RFC 8705) through an undici
// Agent, and moves to a new Agent when the certificate or key is rotated.
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { ConfigError, checkOptions } from '@authrail/core';
import {
  ClientCertificateError,
  materialOf,
  pemReader,
  type ClientCertificateInfo,
  type Material,
  type PemSource,
} from './mtls-material.js';

/** Options of {@link createMtlsFetch}. */
export interface MtlsFetchOptions {
  /** The client certificate (PEM; a chain with the client's certificate first). */
  cert: PemSource;
  /** Its private key (PEM, PKCS#8 or the older forms Node reads). */
  key: PemSource;
  /** The key's passphrase, when the key is encrypted. */
  passphrase?: string;
  /** The CA(s) that signed the server's certificate, when it is not one Node trusts (a private PKI). Default: Node's. */
  ca?: PemSource;
  /**
   * How long a read of files and functions is trusted before they are read again, in
   * ms; read lazily, on the next request (a file costs one `stat` unless it changed), and
   * at once after a TLS failure. `0` reads before every request. Default 30000.
   */
  recheckMs?: number;
  /**
   * Told when a re-read failed (a missing file, a key that does not match the certificate,
   * e.g. caught between two files of a rotation): the certificate in use stays in use and
   * the read is tried again within a second.
   */
  onError?: (error: ClientCertificateError) => void;
}

/**
 * A `fetch` that presents a client certificate on every connection it opens; pass it as
 * the `fetch` of a grant and of the fetch adapter.
 */
export interface MtlsFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The certificate in use (read first if nothing has been read yet). */
  certificate(): Promise<ClientCertificateInfo>;
  /** Reads the files or functions now; a changed certificate gets a new connection pool. */
  reload(): Promise<ClientCertificateInfo>;
  /** Closes the connection pools once their requests are done; later calls reject. */
  close(): Promise<void>;
}

/** One connection pool, for one certificate and key. */
interface Pool {
  agent: Agent;
  material: Material;
  /** Requests whose response headers are not here yet. */
  inflight: number;
  /** Replaced by a newer certificate: closed when its last request is done. */
  retired: boolean;
  /** Its closing, once begun. */
  closing?: Promise<void>;
}

/** Closes a pool once: Agent.close waits for the requests it still carries, then ends its sockets. */
function shut(pool: Pool): Promise<void> {
  pool.closing ??= pool.agent.close().catch(() => undefined);
  return pool.closing;
}

const DEFAULT_RECHECK_MS = 30_000;
/** After a failed re-read, the next try waits at most this long. */
const RETRY_FAILED_READ_MS = 1_000;

/**
 * Error codes of a connection that failed in or right after the TLS handshake. In TLS 1.3
 * a server refuses a client certificate after the client thinks the handshake is done,
 * so the client often sees only the socket closed (UND_ERR_SOCKET) or reset. A false
 * positive costs one stat of each file, so the net is wide.
 */
const TLS_FAILURE =
  /^(?:ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)|^(?:ECONNRESET|UND_ERR_SOCKET)$/;

function isTlsFailure(error: unknown): boolean {
  let at: unknown = error;
  for (let depth = 0; depth < 5 && at !== null && typeof at === 'object'; depth += 1) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_FAILURE.test(code)) return true;
    at = (at as { cause?: unknown }).cause;
  }
  return false;
}

function checkMtlsOptions(options: MtlsFetchOptions) {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('must be an object with cert and key', { option: 'options' });
  checkOptions(options, ['cert', 'key', 'passphrase', 'ca', 'recheckMs', 'onError']);
  if (options.cert === undefined) throw new ConfigError('is required', { option: 'cert' });
  if (options.key === undefined) throw new ConfigError('is required', { option: 'key' });
  if (options.passphrase !== undefined && typeof options.passphrase !== 'string')
    throw new ConfigError('must be a string', { option: 'passphrase' });
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  if (typeof recheckMs !== 'number' || !Number.isFinite(recheckMs) || recheckMs < 0)
    throw new ConfigError('must be a number of milliseconds, 0 or more', { option: 'recheckMs' });
  if (options.onError !== undefined && typeof options.onError !== 'function')
    throw new ConfigError('must be a function', { option: 'onError' });
  return {
    cert: pemReader(options.cert, 'cert'),
    key: pemReader(options.key, 'key'),
    ca: options.ca === undefined ? undefined : pemReader(options.ca, 'ca'),
    passphrase: options.passphrase,
    recheckMs,
    onError: options.onError,
  };
}

/** An undici Agent whose connections present the material's certificate. */
function agentFor(
  AgentClass: typeof Agent,
  { cert, key, ca }: Material,
  passphrase: string | undefined,
): Agent {
  return new AgentClass({
    connect: { cert, key, ...(ca ? { ca } : {}), ...(passphrase ? { passphrase } : {}) },
  });
}

/**
 * The connection pools of one mTLS fetch: the current one, and those replaced by a newer
 * certificate that still carry requests.
 */
function poolsFor(settings: ReturnType<typeof checkMtlsOptions>, AgentClass: typeof Agent) {
  const { recheckMs } = settings;
  let active: Pool | undefined;
  const retiring = new Set<Pool>();
  let checkedAt = Number.NEGATIVE_INFINITY;
  let stale = false;
  let closed = false;
  let loading: Promise<Pool> | undefined;

  const closedError = () => new ClientCertificateError('cert', 'this mTLS fetch was closed');
  const retire = (pool: Pool) => {
    pool.retired = true;
    retiring.add(pool);
    if (pool.inflight === 0) void shut(pool).then(() => retiring.delete(pool));
  };

  /** The material now: the one in use when the PEM text is the same (no parse), else checked anew. */
  const readMaterial = async (): Promise<Material> => {
    const [cert, key, ca] = await Promise.all([settings.cert(), settings.key(), settings.ca?.()]);
    const same = active?.material;
    if (same && same.cert === cert && same.key === key && same.ca === ca) return same;
    return materialOf(cert, key, ca, settings.passphrase);
  };

  const refresh = async (): Promise<Pool> => {
    const previous = active;
    let material: Material;
    try {
      material = await readMaterial();
    } catch (error) {
      if (!previous) throw error;
      // Keep the certificate in use; try again soon (a rotation may be half written).
      checkedAt = Date.now() - recheckMs + Math.min(recheckMs, RETRY_FAILED_READ_MS);
      stale = false;
      settings.onError?.(error as ClientCertificateError);
      return previous;
    }
    checkedAt = Date.now();
    stale = false;
    if (closed) throw closedError();
    if (previous?.material.fingerprint === material.fingerprint) return previous;
    const agent = agentFor(AgentClass, material, settings.passphrase);
    active = { agent, material, inflight: 0, retired: false };
    if (previous) retire(previous);
    return active;
  };

  const fixed = settings.cert.fixed && settings.key.fixed && (settings.ca?.fixed ?? true);
  const pool = (force: boolean): Promise<Pool> => {
    if (closed) return Promise.reject(closedError());
    const due = force || stale || Date.now() - checkedAt >= recheckMs;
    if (active && (!due || (fixed && !force))) return Promise.resolve(active);
    loading ??= refresh().finally(() => (loading = undefined));
    return loading;
  };

  return {
    pool,
    markStale: () => {
      stale = true;
    },
    /** A request on `current` has its response (or failed): a retired pool may close. */
    done(current: Pool) {
      current.inflight -= 1;
      if (current.retired && current.inflight === 0) void shut(current).then(() => retiring.delete(current));
    },
    async close() {
      closed = true;
      const all = [...retiring, ...(active ? [active] : [])];
      active = undefined;
      retiring.clear();
      await Promise.all(all.map(shut));
    },
  };
}

/**
 * undici's `Agent`, from the undici the application installed: an optional peer, so that
 * the file store's users (and `@authrail/redis`, which shares its encryption) install none.
 */
function undiciAgent(): typeof Agent {
  try {
    return (createRequire(import.meta.url)('undici') as { Agent: typeof Agent }).Agent;
  } catch {
    throw new ConfigError('needs undici: install it beside @authrail/node (npm install undici)', {
      option: 'createMtlsFetch',
    });
  }
}

/**
 * Creates a `fetch` that presents a client certificate (mutual TLS): an undici `Agent`
 * with `connect: { cert, key, ca }`, given to the global `fetch` as its `dispatcher`.
 *
 * Use the same one for the token endpoint (a grant's `fetch`, with
 * `tlsClientAuth()` or `selfSignedTlsClientAuth()`) and for the API
 * (`createAuthFetch(strategy, { fetch })`): a certificate-bound access token
 * (`cnf["x5t#S256"]`) is only accepted over the certificate it was issued to.
 *
 * Rotation without a restart: files and functions are read again at most every
 * `recheckMs` (lazily, on a request; at once after a TLS failure, or on `reload()`). A
 * changed certificate gets a new `Agent` for new requests; the old one is closed when its
 * requests are done. The first request over the new certificate with a token bound to the
 * old one gets `401 invalid_token`; the strategy drops that token, fetches one over the new
 * certificate and sends the request again, once.
 *
 * Nothing here keeps the process alive: there is no timer, and idle connections do not
 * hold the event loop. `close()` ends the pools.
 *
 * Node only (undici and `node:crypto`); Bun and Deno would need their own fetch option
 * for a client certificate instead of the Agent.
 *
 * @example
 * ```ts
 * const tls = createMtlsFetch({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key', ca: '/etc/tls/ca.crt' });
 * const strategy = createAuthStrategy({
 *   source: clientCredentials({ server, clientId: 'orders', clientAuth: tlsClientAuth(), fetch: tls }),
 *   origins: ['https://api.example.org'],
 * });
 * const api = createAuthFetch(strategy, { fetch: tls });
 * ```
 * @throws `ConfigError` naming the option, at once; `ClientCertificateError` from the first request when the material cannot be used
 * @see https://www.rfc-editor.org/rfc/rfc8705
 */
export function createMtlsFetch(options: MtlsFetchOptions): MtlsFetch {
  const pools = poolsFor(checkMtlsOptions(options), undiciAgent());
  const mtlsFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const current = await pools.pool(false);
    current.inflight += 1;
    try {
      // The global fetch takes an undici Agent as its dispatcher (Node 20's bundled undici 6
      // and 22/24's included); lib.dom's RequestInit does not know the field.
      return await globalThis.fetch(input, { ...init, dispatcher: current.agent } as RequestInit);
    } catch (error) {
      if (isTlsFailure(error)) pools.markStale(); // an expired or replaced certificate: read again at once
      throw error;
    } finally {
      pools.done(current);
    }
  };

  return Object.assign(mtlsFetch, {
    certificate: async () => (await pools.pool(false)).material.info,
    reload: async () => (await pools.pool(true)).material.info,
    close: () => pools.close(),
  });
}
