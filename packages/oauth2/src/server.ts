import * as client from 'openid-client';
import { ConfigError } from '@authrail/core';
import { toTokenEndpointError, type Observed } from './errors.js';

/** Server metadata given directly, for servers without discovery (MSK APIM, Okta org servers). */
export interface ServerEndpoints {
  /** The issuer identifier (a URL). */
  issuer: string;
  /** The token endpoint URL (RFC 6749 §3.2). */
  tokenEndpoint: string;
  /** The authorization endpoint URL, for the authorization code flow. */
  authorizationEndpoint?: string;
  /** The revocation endpoint URL (RFC 7009), used at sign-out. */
  revocationEndpoint?: string;
}

/**
 * Discover the server's metadata from its well-known document.
 *
 * @example
 * ```ts
 * clientCredentials({ server: { issuer: 'https://auth.example.org', discovery: true }, … })
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8414
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 */
export interface ServerDiscovery {
  /** The issuer; metadata is read from its `/.well-known/` documents. */
  issuer: string;
  /** Turns discovery on. */
  discovery: true;
  /**
   * Which document to read: `'oidc'` appends `/.well-known/openid-configuration` to the
   * issuer (Okta, Medblocks, most servers); `'oauth2'` inserts
   * `/.well-known/oauth-authorization-server` before the issuer's path (RFC 8414 §3).
   * Default: `'oidc'`, then `'oauth2'` when the first is not there.
   */
  algorithm?: 'oidc' | 'oauth2';
}

/** Where the authorization server is: discovered, or given directly. */
export type ServerOptions = ServerEndpoints | ServerDiscovery;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Parses an endpoint URL and refuses `http:` except on loopback hosts: client secrets
 * and tokens must not cross a network in clear text.
 *
 * @example
 * ```ts
 * secureUrl('http://127.0.0.1:8080/token', 'tokenEndpoint'); // URL
 * secureUrl('http://auth.example.org/token', 'tokenEndpoint'); // throws ConfigError naming tokenEndpoint
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.2
 *
 * @throws `ConfigError` (from `@authrail/core`) naming `option`
 */
export function secureUrl(value: unknown, option: string): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigError('must be an absolute URL', { option });
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return url;
  throw new ConfigError(
    `must be an https: URL (http: only for loopback hosts), got ${url.protocol}//${url.host}`,
    { option },
  );
}

/** Validated server options, with the metadata resolved once (discovery is cached). */
export interface ResolvedServer {
  issuer: URL;
  insecure: boolean;
  /** Server metadata; discovery happens on first use and is cached. */
  metadata(fetchImpl: typeof fetch, signal: AbortSignal | undefined): Promise<client.ServerMetadata>;
  /** The token endpoint as configured (or the issuer, before discovery). For store keys and messages. */
  tokenEndpointHint: string;
}

export function resolveServer(server: ServerOptions | undefined, option = 'server'): ResolvedServer {
  if (!server || typeof server !== 'object')
    throw new ConfigError('must give issuer and tokenEndpoint, or issuer and discovery: true', { option });
  const issuer = secureUrl(server.issuer, `${option}.issuer`);
  if ('discovery' in server && server.discovery === true) {
    const algorithm = (server as ServerDiscovery).algorithm;
    if (algorithm !== undefined && algorithm !== 'oidc' && algorithm !== 'oauth2')
      throw new ConfigError("must be 'oidc' or 'oauth2' when given", { option: `${option}.algorithm` });
    const algorithms = algorithm ? [algorithm] : (['oidc', 'oauth2'] as const);
    let cached: Promise<client.ServerMetadata> | undefined;
    return {
      issuer,
      insecure: issuer.protocol === 'http:',
      tokenEndpointHint: issuer.href,
      metadata(fetchImpl, signal) {
        cached ??= discover(issuer, algorithms, fetchImpl, signal).then((meta) => {
          if (!meta.token_endpoint)
            throw new ConfigError('the discovered metadata has no token_endpoint', {
              option: `${option}.issuer`,
            });
          for (const [key, name] of [
            ['token_endpoint', 'tokenEndpoint'],
            ['authorization_endpoint', 'authorizationEndpoint'],
            ['revocation_endpoint', 'revocationEndpoint'],
          ] as const) {
            const value = meta[key];
            if (typeof value === 'string') secureUrl(value, `${option}.${name} (discovered)`);
          }
          return meta;
        });
        cached.catch(() => (cached = undefined)); // a failed discovery is tried again next time
        return cached;
      },
    };
  }
  const endpoints = server as ServerEndpoints;
  const tokenEndpoint = secureUrl(endpoints.tokenEndpoint, `${option}.tokenEndpoint`);
  const metadata: client.ServerMetadata = {
    issuer: String(endpoints.issuer),
    token_endpoint: tokenEndpoint.href,
    ...(endpoints.authorizationEndpoint
      ? {
          authorization_endpoint: secureUrl(
            endpoints.authorizationEndpoint,
            `${option}.authorizationEndpoint`,
          ).href,
        }
      : {}),
    ...(endpoints.revocationEndpoint
      ? { revocation_endpoint: secureUrl(endpoints.revocationEndpoint, `${option}.revocationEndpoint`).href }
      : {}),
  };
  const insecure = [
    metadata.token_endpoint,
    metadata.authorization_endpoint,
    metadata.revocation_endpoint,
  ].some((u) => u?.startsWith('http:'));
  return {
    issuer,
    insecure,
    tokenEndpointHint: tokenEndpoint.href,
    metadata: () => Promise.resolve(metadata),
  };
}

/** A customFetch for openid-client that also honours the caller's signal. */
export function withSignal(fetchImpl: typeof fetch, signal: AbortSignal | undefined): client.CustomFetch {
  return (url, options) => {
    const signals = [options.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    return fetchImpl(url, {
      ...options,
      ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
    } as RequestInit);
  };
}

/** Runs discovery through openid-client, one well-known document after the other; failures are typed. */
async function discover(
  issuer: URL,
  algorithms: readonly ('oidc' | 'oauth2')[],
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<client.ServerMetadata> {
  let failure: unknown;
  for (const algorithm of algorithms) {
    const observed: Observed = {};
    let url = issuer.href;
    try {
      const inner = withSignal(fetchImpl, signal);
      const config = await client.discovery(issuer, 'discovery', undefined, undefined, {
        ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
        [client.customFetch]: async (target, init) => {
          url = target;
          return observe(await inner(target, init), observed);
        },
        algorithm,
      });
      return { ...config.serverMetadata() };
    } catch (error) {
      if (signal?.aborted && signal.reason?.name !== 'TimeoutError') throw signal.reason;
      const where = new URL(url);
      failure = toTokenEndpointError(
        error,
        observed,
        `${where.origin}${where.pathname}`,
        [],
        signal?.aborted === true,
        'discovery document',
      );
      // Only "not there" moves on to the next document; network failures and timeouts do not.
      if (observed.status === undefined || observed.status < 400) break;
    }
  }
  throw failure;
}

/** Records the status, `Retry-After` and (on failure) the body of a response, leaving it readable. */
export async function observe(response: Response, observed: Observed): Promise<Response> {
  observed.status = response.status;
  observed.retryAfter = response.headers.get('retry-after');
  if (!response.ok)
    observed.body = await response
      .clone()
      .text()
      .catch(() => '');
  return response;
}
