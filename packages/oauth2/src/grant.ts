import * as client from 'openid-client';
import { ConfigError, ErrorCodes, createToken, isTokenEndpointError, type Token } from '@authrail/core';
import type { ClientAuthentication } from './client-auth.js';
import { toTokenEndpointError, type Observed } from './errors.js';
import { withSignal, type ResolvedServer } from './server.js';

/** Options every grant shares. */
export interface GrantOptions {
  /** A `fetch` to use for token requests (a proxy agent, a test double server). Default: global `fetch`, looked up per call. */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds. Default 30 000. */
  timeoutMs?: number;
}

const STANDARD = new Set(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token']);

/** Builds a core Token from a token endpoint response; unknown fields (MSK's `consented_on`) go to `extra`. */
export function tokenFrom(response: client.TokenEndpointResponse, previousRefreshToken?: string): Token {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(response)) if (!STANDARD.has(k)) extra[k] = v;
  const refreshToken = response.refresh_token ?? previousRefreshToken;
  return createToken({
    accessToken: response.access_token,
    tokenType: response.token_type,
    ...(typeof response.expires_in === 'number' ? { expiresIn: response.expires_in } : {}),
    ...(response.scope ? { scope: response.scope } : {}),
    ...(refreshToken ? { refreshToken } : {}),
    extra,
  });
}

export function checkTimeout(value: unknown): number {
  if (value === undefined) return 30_000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new ConfigError('must be a positive number of milliseconds', { option: 'timeoutMs' });
  return value;
}

export function checkClientId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError('must be a non-empty string', { option: 'clientId' });
  return value;
}

/**
 * Runs one token endpoint request through openid-client with a fresh Configuration
 * (so a rotated secret is used), the caller's signal and our own timeout, and maps any
 * failure to a typed error. After `invalid_client` with a secret function, the secret is
 * read again and the request made once more.
 */
export async function runGrant<T extends client.TokenEndpointResponse>(
  server: ResolvedServer,
  clientId: string,
  auth: ClientAuthentication,
  options: {
    fetch?: typeof fetch;
    timeoutMs: number;
    signal?: AbortSignal;
    extraSecrets?: readonly string[];
  },
  call: (config: client.Configuration) => Promise<T>,
): Promise<T> {
  const attempt = async (reread: boolean): Promise<T> => {
    const fetchImpl = options.fetch ?? globalThis.fetch;
    const observed: Observed = {};
    let secrets: string[] = [...(options.extraSecrets ?? [])];
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let endpoint = server.tokenEndpointHint;
    try {
      const metadata = await server.metadata(fetchImpl, signal);
      endpoint = metadata.token_endpoint ?? endpoint;
      const prepared = await auth.prepare(reread);
      secrets = [...secrets, ...prepared.secrets];
      const config = new client.Configuration(metadata, clientId, undefined, prepared.auth);
      if (server.insecure) client.allowInsecureRequests(config);
      const inner = withSignal(fetchImpl, signal);
      config[client.customFetch] = async (url, init) => {
        const response = await inner(url, init);
        observed.status = response.status;
        observed.retryAfter = response.headers.get('retry-after');
        if (!response.ok)
          observed.body = await response
            .clone()
            .text()
            .catch(() => '');
        return response;
      };
      return await call(config);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw toTokenEndpointError(
        error,
        observed,
        new URL(endpoint).origin + new URL(endpoint).pathname,
        secrets,
        timeout.aborted,
      );
    }
  };
  try {
    return await attempt(false);
  } catch (error) {
    const rotatable = auth.method !== 'none';
    if (
      rotatable &&
      isTokenEndpointError(error) &&
      error.code === ErrorCodes.TOKEN_ENDPOINT_ERROR &&
      error.error === 'invalid_client'
    ) {
      return attempt(true); // the credential may have been rotated: read it once more
    }
    throw error;
  }
}
