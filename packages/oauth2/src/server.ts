import * as client from 'openid-client';
import { ConfigError } from '@authrail/core';

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

/** Discover the server's metadata from `{issuer}/.well-known/…` (RFC 8414 / OpenID Connect Discovery). */
export interface ServerDiscovery {
  /** The issuer; metadata is read from its `/.well-known/` documents. */
  issuer: string;
  /** Turns discovery on. */
  discovery: true;
}

/** Where the authorization server is: discovered, or given directly. */
export type ServerOptions = ServerEndpoints | ServerDiscovery;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Parses an endpoint URL and refuses `http:` except on loopback hosts: client secrets
 * and tokens must not cross a network in clear text.
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
    let cached: Promise<client.ServerMetadata> | undefined;
    return {
      issuer,
      insecure: issuer.protocol === 'http:',
      tokenEndpointHint: issuer.href,
      metadata(fetchImpl, signal) {
        cached ??= client
          .discovery(issuer, 'discovery', undefined, undefined, {
            ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
            [client.customFetch]: withSignal(fetchImpl, signal),
            algorithm: 'oauth2',
          })
          .then((config) => {
            const meta = config.serverMetadata();
            if (meta.token_endpoint) secureUrl(meta.token_endpoint, `${option}.tokenEndpoint (discovered)`);
            return { ...meta };
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
