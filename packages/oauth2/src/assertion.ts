// Assertions another issuer signed (RFC 7523): a Kubernetes projected service-account
// token, a CI job's OIDC token. Read for every token request, never sent past their `exp`.
import { ConfigError, ErrorCodes, TokenEndpointError, checkOptions } from '@authrail/core';

/**
 * A JWT assertion another issuer signed, or a function that reads it (called for every
 * token request, so a rotated assertion is used at once): {@link assertionFromFile} is one.
 */
export type AssertionInput = string | (() => string | Promise<string>);

/** Options of {@link assertionFromFile}. */
export interface AssertionFileOptions {
  /**
   * Read the file again, even when it looks unchanged, once the assertion it held expires
   * within this many milliseconds. Default 60000. An assertion past its `exp` is never
   * sent, whatever this says.
   */
  expiryMarginMs?: number;
}

/** A compact JWS: three base64url parts. */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * The `exp` of a compact JWT, in epoch seconds, read without verifying (the server
 * verifies); undefined when it has none or cannot be read.
 */
export function expiryOf(jwt: string): number | undefined {
  try {
    const part = jwt.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** The typed error of an assertion that cannot be used: it names where it came from, never what it holds. */
function unusable(where: string, why: string, secrets: readonly string[] = []): TokenEndpointError {
  // UNREACHABLE: retryable, so the token manager's bounded attempts give a rotating file time.
  return new TokenEndpointError(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, `${where} ${why}`, { secrets });
}

/**
 * Checks an assertion before it is sent: a compact JWS whose `exp`, when it has one, is
 * still ahead. `where` names its origin in errors (the option, or the file path).
 */
function usableAssertion(value: unknown, where: string, now = Date.now()): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!COMPACT_JWS.test(text)) throw unusable(where, 'holds no JWT (header.payload.signature)', [text]);
  const exp = expiryOf(text);
  if (exp !== undefined && exp * 1000 <= now)
    throw unusable(where, `holds an assertion that expired at ${new Date(exp * 1000).toISOString()}`, [text]);
  return text;
}

/** Reads an {@link AssertionInput} for one token request, checked. */
export function assertionReader(value: unknown, option: string): () => Promise<string> {
  if (typeof value === 'string') {
    if (!COMPACT_JWS.test(value.trim()))
      throw new ConfigError('must be a JWT (header.payload.signature) or a function that reads one', {
        option,
        secrets: [value],
      });
    return () => Promise.resolve(usableAssertion(value, `the ${option} option`));
  }
  if (typeof value !== 'function')
    throw new ConfigError('must be a JWT or a function that reads one (assertionFromFile(path))', { option });
  const read = value as () => string | Promise<string>;
  return async () => usableAssertion(await read(), `the ${option} function's result`);
}

interface FileSystem {
  stat(path: string): Promise<{ mtimeMs: number; size: number; ino: number }>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
}

/** Node's `fs/promises` where the runtime has one (Node, Bun, Deno), found without an import so browser bundles never see it. */
function fileSystem(): FileSystem | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return process?.getBuiltinModule?.('node:fs/promises') as FileSystem | undefined;
}

/**
 * An assertion read from a file that something else keeps fresh: a Kubernetes projected
 * service-account token (`/var/run/secrets/tokens/…`), a CI job's OIDC token. Pass it as
 * `jwtBearer({ assertion })` or `clientAssertion(…)`.
 *
 * Each token request looks at the file (`stat`); it is read again when it changed
 * (kubelet replaces it in place) or when the assertion it held nears its own `exp`
 * (`expiryMarginMs`). An assertion past its `exp` is never sent. A missing or unreadable
 * file, one that holds no JWT, or one whose assertion has expired is a
 * `TokenEndpointError` (`TOKEN_ENDPOINT_UNREACHABLE`, so the token manager's bounded
 * retries give a rotation time) that names the path, never the content.
 *
 * Runs where `process.getBuiltinModule` gives `node:fs/promises`: Node (≥ 20.16), Bun, Deno.
 *
 * @param path - the file's path
 * @throws `ConfigError` naming `path` (not a non-empty string, or no file system here) or `expiryMarginMs`
 * @example
 * ```ts
 * const source = jwtBearer({
 *   server: { issuer: 'https://login.example.org', discovery: true },
 *   clientId: 'orders-workload',
 *   assertion: assertionFromFile('/var/run/secrets/tokens/authrail'),
 *   scope: 'orders.read',
 * });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7523
 * @see https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken
 */
export function assertionFromFile(path: string, options: AssertionFileOptions = {}): () => Promise<string> {
  if (typeof path !== 'string' || path.length === 0)
    throw new ConfigError('must be the path of the assertion file', { option: 'path' });
  checkOptions(options, ['expiryMarginMs']);
  const margin = options.expiryMarginMs ?? 60_000;
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0)
    throw new ConfigError('must be a number of milliseconds, 0 or more', { option: 'expiryMarginMs' });
  const fs = fileSystem();
  if (!fs)
    throw new ConfigError('reading an assertion file needs Node, Bun or Deno (process.getBuiltinModule)', {
      option: 'path',
    });
  const where = `the assertion file ${path}`;
  let held: { text: string; exp: number | undefined; stamp: string } | undefined;
  return async () => {
    let stamp: string;
    try {
      const stat = await fs.stat(path);
      stamp = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch (error) {
      throw unusable(where, `cannot be read (${(error as { code?: string }).code ?? 'error'})`);
    }
    // margin ≥ 0: an assertion past its exp is always near it, so it is read again and checked.
    const nearExpiry = held?.exp !== undefined && held.exp * 1000 - margin <= Date.now();
    if (!held || held.stamp !== stamp || nearExpiry) {
      let text: string;
      try {
        text = await fs.readFile(path, 'utf8');
      } catch (error) {
        throw unusable(where, `cannot be read (${(error as { code?: string }).code ?? 'error'})`);
      }
      const checked = usableAssertion(text, where);
      held = { text: checked, exp: expiryOf(checked), stamp };
      return checked;
    }
    return held.text; // not near its exp, so not past it
  };
}
