import * as client from 'openid-client';
import { ConfigError, ErrorCodes, TokenEndpointError } from '@authrail/core';
import { abortedBy, endpointError, type Observed } from './errors.js';
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
  /** The device authorization endpoint URL (RFC 8628 §3.1), for `deviceAuthorization`. */
  deviceAuthorizationEndpoint?: string;
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

/**
 * Read the server's metadata from one document, at the URL given, as it is: SMART on
 * FHIR's `{fhirBaseUrl}/.well-known/smart-configuration`, whose `issuer` is optional.
 * It must give `token_endpoint`; every endpoint in it must be https: (http: only on
 * loopback). Read on first use and kept; a failed read is tried again next time.
 *
 * @example
 * ```ts
 * clientCredentials({ server: { metadataUrl: 'https://fhir.example.org/r4/.well-known/smart-configuration' }, … })
 * ```
 */
export interface ServerMetadataUrl {
  /** The document's URL. */
  metadataUrl: string;
  /**
   * Checks the document beyond its endpoints: returns what is wrong with it (the
   * token request then fails with a `TOKEN_RESPONSE_INVALID` error saying so), or undefined.
   */
  check?: (metadata: Readonly<Record<string, unknown>>) => string | undefined;
}

/** Where the authorization server is: discovered, read from one metadata document, or given directly. */
export type ServerOptions = ServerEndpoints | ServerDiscovery | ServerMetadataUrl;

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
    throw new ConfigError('must give issuer and tokenEndpoint, issuer and discovery: true, or metadataUrl', {
      option,
    });
  if ('metadataUrl' in server) return metadataAt(server, option);
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
          for (const key of ENDPOINT_FIELDS) {
            const value = meta[key];
            if (typeof value === 'string' && !isSecure(value))
              throw invalid(`gives ${key} over http: on a host that is not loopback`);
          }
          const alias = insecureAlias(meta.mtls_endpoint_aliases);
          if (alias) throw invalid(`gives mtls_endpoint_aliases.${alias} that is not an https: URL`);
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
    ...(endpoints.deviceAuthorizationEndpoint
      ? {
          device_authorization_endpoint: secureUrl(
            endpoints.deviceAuthorizationEndpoint,
            `${option}.deviceAuthorizationEndpoint`,
          ).href,
        }
      : {}),
  };
  const insecure = ENDPOINT_FIELDS.some((field) => metadata[field]?.startsWith('http:'));
  return {
    issuer,
    insecure,
    tokenEndpointHint: tokenEndpoint.href,
    metadata: () => Promise.resolve(metadata),
  };
}

/** The metadata endpoints that carry credentials or users: each must be secure. */
const ENDPOINT_FIELDS = [
  'token_endpoint',
  'authorization_endpoint',
  'revocation_endpoint',
  'device_authorization_endpoint',
] as const;

/**
 * The first of ENDPOINT_FIELDS in RFC 8705's `mtls_endpoint_aliases` that is not a secure
 * URL: a certificate-authenticated client sends its token requests there instead.
 */
function insecureAlias(aliases: unknown): string | undefined {
  if (aliases === undefined) return undefined;
  if (typeof aliases !== 'object' || aliases === null) return 'itself';
  const map = aliases as Record<string, unknown>;
  return ENDPOINT_FIELDS.find(
    (key) => map[key] !== undefined && (typeof map[key] !== 'string' || !isSecure(map[key])),
  );
}

/** A {@link ServerMetadataUrl}: the document read once (through the grant's fetch and size cap) and kept. */
function metadataAt(server: ServerMetadataUrl, option: string): ResolvedServer {
  const url = secureUrl(server.metadataUrl, `${option}.metadataUrl`);
  if (server.check !== undefined && typeof server.check !== 'function')
    throw new ConfigError('must be a function of the metadata', { option: `${option}.check` });
  const shown = `${url.origin}${url.pathname}`;
  const what = 'discovery document';
  let cached: Promise<client.ServerMetadata> | undefined;
  const read = async (http: HttpSettings, signal: AbortSignal | undefined) => {
    const observed: Observed = {};
    let response: Response;
    let body: unknown;
    try {
      response = await endpointFetch(
        http,
        signal,
        observed,
        what,
      )(url.href, {
        method: 'GET',
        headers: { accept: 'application/json' },
        body: undefined,
        redirect: 'manual',
        signal: undefined,
      } as unknown as client.CustomFetchOptions);
      if (response.status !== 200) throw new Error(`unexpected status ${response.status}`);
      body = await response.json();
    } catch (error) {
      if (signal?.aborted) throw abortedBy(signal, shown, what);
      throw endpointError(error, observed, shown, [], what);
    }
    const invalid = (why: string) =>
      new TokenEndpointError(ErrorCodes.TOKEN_RESPONSE_INVALID, `the ${what} ${shown} ${why}`, {
        endpoint: shown,
        status: 200,
      });
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('is not a JSON object');
    const document = body as Record<string, unknown>;
    if (typeof document.token_endpoint !== 'string') throw invalid('has no token_endpoint');
    for (const key of ENDPOINT_FIELDS) {
      const value = document[key];
      if (value !== undefined && (typeof value !== 'string' || !isSecure(value)))
        throw invalid(`gives ${key} that is not an https: URL (http: only on loopback)`);
    }
    const alias = insecureAlias(document.mtls_endpoint_aliases);
    if (alias) throw invalid(`gives mtls_endpoint_aliases.${alias} that is not an https: URL`);
    const problem = server.check?.(document);
    if (problem) throw invalid(problem);
    return {
      ...document,
      issuer: typeof document.issuer === 'string' ? document.issuer : url.origin,
    } as client.ServerMetadata;
  };
  return {
    issuer: url,
    insecure: url.protocol === 'http:',
    tokenEndpointHint: url.href,
    metadata(http, signal) {
      cached ??= read(http, signal);
      cached.catch(() => (cached = undefined)); // a failed read is tried again next time
      return cached;
    },
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
      failure = endpointError(error, observed, shown, [], 'discovery document');
      const status = observed.response?.status;
      tried.push({ url: shown, status });
      const missing = status !== undefined && status >= 400 && status < 500;
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
