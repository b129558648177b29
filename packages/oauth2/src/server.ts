import * as client from 'openid-client';
import { ConfigError, ErrorCodes, TokenEndpointError } from '@authrail/core';
import { abortedBy, toTokenEndpointError, type Observed } from './errors.js';
import { endpointFetch, type HttpSettings } from './http.js';

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
 * and tokens must not cross a network in clear text (RFC 6749 §3.2).
 *
 * @throws `ConfigError` (from `@authrail/core`) naming `option`
 */
export function secureUrl(value: unknown, option: string): URL {
  const url = parseUrl(value, option);
  // Credentials in a URL end up in logs and error causes; they are never how OAuth authenticates.
  if (url.username || url.password)
    throw new ConfigError('must not contain a user name or password (user:password@)', { option });
  if (isSecure(url)) return url;
  throw new ConfigError(
    `must be an https: URL (http: only for loopback hosts), got ${url.protocol}//${url.host}`,
    { option },
  );
}

function parseUrl(value: unknown, option: string): URL {
  if (typeof value !== 'string' && !(value instanceof URL))
    throw new ConfigError('must be an absolute URL (a string)', { option });
  try {
    return new URL(String(value));
  } catch {
    throw new ConfigError('must be an absolute URL', { option });
  }
}

/** Whether credentials may be sent to this URL: https:, or http: on a loopback host. */
function isSecure(value: string | URL): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname));
}

/** Paths of a vendor's endpoints under its base URL, for {@link endpointsAt}. */
export interface EndpointPaths {
  /** The token endpoint's path, e.g. `/oauth2/token`. */
  token: string;
  /** The authorization endpoint's path, for the code flow. */
  authorization?: string;
  /** The revocation endpoint's path (RFC 7009). */
  revocation?: string;
}

/**
 * The {@link ServerEndpoints} of a server whose endpoints hang off one base URL, as a
 * vendor preset knows them: checks the base URL (https:, or http: on loopback; no query
 * or fragment) naming the preset's own option, and each path.
 *
 * @param base - the user's base URL (e.g. `mskApim`'s `baseUrl`)
 * @param paths - the vendor's endpoint paths, each starting with `/`
 * @param option - the option `base` came from, for errors. Default `baseUrl`
 * @throws `ConfigError` (from `@authrail/core`) naming `option` or the path option
 * @example
 * ```ts
 * const server = endpointsAt(options.baseUrl, { token: '/oauth2/token', authorization: '/oauth2/auth' });
 * // { issuer: 'https://api.medblocks.com', tokenEndpoint: 'https://api.medblocks.com/oauth2/token', authorizationEndpoint: … }
 * ```
 */
export function endpointsAt(base: unknown, paths: EndpointPaths, option = 'baseUrl'): ServerEndpoints {
  const url = secureUrl(base, option);
  if (url.search || url.hash) throw new ConfigError('must not have a query or fragment', { option });
  const root = url.href.replace(/\/$/, '');
  const at = (path: string | undefined, name: string) => {
    if (path === undefined) return undefined;
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw new ConfigError('must be a path starting with /', { option: name });
    return `${root}${path}`;
  };
  const authorizationEndpoint = at(paths.authorization, 'authorizePath');
  const revocationEndpoint = at(paths.revocation, 'revocationPath');
  return {
    issuer: root,
    tokenEndpoint: at(paths.token, 'tokenPath') as string,
    ...(authorizationEndpoint ? { authorizationEndpoint } : {}),
    ...(revocationEndpoint ? { revocationEndpoint } : {}),
  };
}

/** Validated server options, with the metadata resolved once (discovery is cached). */
export interface ResolvedServer {
  issuer: URL;
  insecure: boolean;
  /** Server metadata; discovery happens on first use and is cached. */
  metadata(http: HttpSettings, signal: AbortSignal | undefined): Promise<client.ServerMetadata>;
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
      metadata(http, signal) {
        cached ??= discover(issuer, algorithms, http, signal).then((meta) => {
          // What a server publishes is server data: a bad document is a typed token
          // endpoint error, never a ConfigError (which is for options, at construction).
          const invalid = (why: string) =>
            new TokenEndpointError(
              ErrorCodes.TOKEN_RESPONSE_INVALID,
              `the discovery document of ${issuer.href} ${why}`,
              {
                endpoint: issuer.href,
              },
            );
          if (!meta.token_endpoint) throw invalid('has no token_endpoint');
          for (const key of ['token_endpoint', 'authorization_endpoint', 'revocation_endpoint'] as const) {
            const value = meta[key];
            if (typeof value === 'string' && !isSecure(value))
              throw invalid(`gives ${key} over http: on a host that is not loopback`);
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

/** One discovery document tried, for the error when none is there. */
interface Tried {
  url: string;
  status: number | undefined;
}

/**
 * Runs discovery through openid-client, one well-known document after the other (the
 * OpenID form appends to the issuer's path, RFC 8414 inserts before it); a document
 * that is not there (4xx) moves on to the next, anything else ends it. When none is
 * there the error lists every URL tried.
 */
async function discover(
  issuer: URL,
  algorithms: readonly ('oidc' | 'oauth2')[],
  http: HttpSettings,
  signal: AbortSignal | undefined,
): Promise<client.ServerMetadata> {
  let failure: unknown;
  const tried: Tried[] = [];
  for (const algorithm of algorithms) {
    const observed: Observed = {};
    let url = issuer.href;
    const fetchDocument = endpointFetch(http, signal, observed, 'discovery document');
    try {
      const config = await client.discovery(issuer, 'discovery', undefined, undefined, {
        ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
        [client.customFetch]: (target, init) => {
          url = target;
          return fetchDocument(target, init);
        },
        algorithm,
      });
      return { ...config.serverMetadata() };
    } catch (error) {
      const where = new URL(url);
      const shown = `${where.origin}${where.pathname}`;
      if (signal?.aborted) throw abortedBy(signal, shown, 'discovery document');
      failure = toTokenEndpointError(error, observed, shown, [], 'discovery document');
      tried.push({ url: shown, status: observed.status });
      const missing = observed.status !== undefined && observed.status >= 400 && observed.status < 500;
      if (!missing) throw failure;
    }
  }
  if (tried.length < 2) throw failure;
  const last = failure as TokenEndpointError;
  throw new TokenEndpointError(
    last.code,
    `no discovery document for issuer ${issuer.href}: tried ${tried.map((t) => `${t.url} (${t.status})`).join(', ')}`,
    {
      endpoint: last.endpoint ?? issuer.href,
      ...(last.status === undefined ? {} : { status: last.status }),
      ...(last.error === undefined ? {} : { error: last.error }),
      ...(last.body === undefined ? {} : { body: last.body }),
      ...(last.retryAfterMs === undefined ? {} : { retryAfterMs: last.retryAfterMs }),
      cause: last,
    },
  );
}
