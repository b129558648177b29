import * as client from 'openid-client';
import {
  ConfigError,
  ErrorCodes,
  TokenEndpointError,
  createToken,
  isAuthrailError,
  isTokenEndpointError,
  presetOptionsOf,
  toTokenEndpointError,
  type PresetOptions,
  type Token,
} from '@authrail/core';
import { isMutualTls, type ClientAuthentication, type ClientPresetOptions } from './client-auth.js';
import type { DPoPBinding, DPoPOption } from './dpop.js';
import { abortedBy, endpointError, type MapError, type Observed } from './errors.js';
import { endpointFetch, type HttpSettings } from './http.js';
import type { ResolvedServer } from './server.js';

/** Options every grant (and every preset on one) shares: how the authorization server is called. */
export interface GrantOptions {
  /** A `fetch` to use for token requests (a proxy agent, a test double server). Default: global `fetch`, looked up per call. */
  fetch?: typeof fetch;
  /**
   * The most of a token, revocation or discovery response that is read, in bytes after
   * decompression; a larger one is a `TOKEN_RESPONSE_INVALID` error. Default 1 MiB
   * (1048576), as Go's oauth2.
   */
  maxResponseBytes?: number;
  /**
   * DPoP-bound tokens (RFC 9449): `true` (a new ES256 key pair, private key not
   * extractable) or your own `CryptoKeyPair`. Every token request and every request the
   * tokens go on carries a proof signed by the key; `token_type` must come back `DPoP`.
   */
  dpop?: DPoPOption;
}

/**
 * The {@link GrantOptions} of a preset's options (`fetch`, `maxResponseBytes`, `dpop`):
 * the one pass-through every preset hands its token source, so an option added here
 * reaches every preset.
 *
 * @example
 * ```ts
 * const source = clientCredentials({ server, clientId, clientAuth, ...grantOptionsOf(options) });
 * ```
 */
export function grantOptionsOf(options: GrantOptions): GrantOptions {
  return { fetch: options.fetch, maxResponseBytes: options.maxResponseBytes, dpop: options.dpop };
}

/** The keys of {@link GrantOptions}, for the whole-object checks of sources and presets. */
export const GRANT_KEYS = ['fetch', 'maxResponseBytes', 'dpop'] as const;

/**
 * For presets on an OAuth client: checks the options whole (`clientId`, the
 * {@link GrantOptions}, core's `PresetOptions` and the preset's `own` keys; anything
 * else is a `ConfigError` naming it) and splits out what goes to `createAuthStrategy` and
 * what goes to the token source.
 *
 * @example
 * ```ts
 * const { preset, grant } = clientPresetOptionsOf(options, ['baseUrl', 'clientSecret']);
 * const source = clientCredentials({ server, clientId: options.clientId, clientAuth, ...grant });
 * return createAuthStrategy({ ...preset, source, origins: preset.origins ?? [apiOrigin] });
 * ```
 */
export function clientPresetOptionsOf(
  options: ClientPresetOptions,
  own: readonly string[],
): {
  /** What goes to `createAuthStrategy` (origins, policies, store, refresh, retry, logger, on). */
  preset: PresetOptions;
  /** What goes to the token source (`fetch`, `maxResponseBytes`, `dpop`). */
  grant: GrantOptions;
} {
  return {
    preset: presetOptionsOf(options, ['clientId', ...GRANT_KEYS, ...own]),
    grant: grantOptionsOf(options),
  };
}

const STANDARD = new Set(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token']);

/**
 * Builds a core Token from a token endpoint response; unknown fields (MSK's `consented_on`)
 * go to `extra`. A request that sent a DPoP proof must get a `DPoP` token back, and one
 * that did not, a `Bearer` token: anything else is a typed error (no silent downgrade).
 */
export function tokenFrom(
  response: client.TokenEndpointResponse,
  previousRefreshToken: string | undefined,
  dpop: DPoPBinding | undefined,
  now: (() => number) | undefined = undefined,
): Token {
  const type = String(response.token_type).toLowerCase();
  if ((type === 'dpop') !== (dpop !== undefined)) {
    throw new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      dpop
        ? `the token endpoint answered a DPoP proof with token_type "${type.slice(0, 20)}": a DPoP-bound token was asked for`
        : 'the token endpoint answered with token_type "dpop" but no DPoP proof was sent (set the dpop option)',
    );
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(response)) if (!STANDARD.has(k)) extra[k] = v;
  // The ID token's claims, as openid-client validated them (iss, aud, exp, iat); the ID
  // token itself is not kept. SMART's fhirUser is one of them.
  const claims = (response as { claims?: () => Record<string, unknown> | undefined }).claims?.();
  if (claims) extra.idTokenClaims = { ...claims };
  const refreshToken = response.refresh_token ?? previousRefreshToken;
  return createToken(
    {
      accessToken: response.access_token,
      tokenType: response.token_type,
      ...(typeof response.expires_in === 'number' ? { expiresIn: response.expires_in } : {}),
      ...(response.scope ? { scope: response.scope } : {}),
      ...(refreshToken ? { refreshToken } : {}),
      extra,
    },
    // The token manager's clock, so a manager on a test clock refreshes by that clock.
    now?.(),
  );
}

/** Parameters the grant sets itself: given in `parameters` they would be sent twice or override the grant. */
const RESERVED = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'resource',
  'refresh_token',
  'code',
  'device_code',
  'code_verifier',
  'redirect_uri',
]);

/**
 * Checks extra token request parameters: a plain object of strings, none of which the
 * grant sets itself.
 *
 * @throws `ConfigError` naming `parameters`
 */
export function checkParameters(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof URLSearchParams)
    throw new ConfigError('must be an object of parameter names to string values', { option: 'parameters' });
  const checked: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ConfigError(`${name} must be a string`, { option: 'parameters' });
    if (RESERVED.has(name))
      throw new ConfigError(`${name} is set by the grant (use its own option)`, { option: 'parameters' });
    checked[name] = v;
  }
  return checked;
}

/**
 * Checks RFC 8707 resource indicators: absolute URIs without a fragment.
 *
 * @throws `ConfigError` naming `resource`
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function checkResource(value: unknown): string[] {
  if (value === undefined) return [];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  return list.map((resource) => {
    let url: URL | undefined;
    try {
      url = typeof resource === 'string' ? new URL(resource) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || url.hash || (resource as string).includes('#'))
      throw new ConfigError('must be an absolute URI without a fragment, or an array of them', {
        option: 'resource',
      });
    return resource as string;
  });
}

/** Checks a preset's `mapError`: a function, when given. */
export function checkMapError(value: unknown): MapError | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new ConfigError('must be a function of the error and the response', { option: 'mapError' });
  return value as MapError | undefined;
}

export function checkClientId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError('must be a non-empty string', { option: 'clientId' });
  return value;
}

/** How one request of a grant is made: its signal, what to scrub, and what it is called. */
export interface GrantCall {
  signal?: AbortSignal;
  /** Strings sent besides the client's own credential (a code, a verifier, a refresh token). */
  extraSecrets?: readonly string[];
  /** What the endpoint is called in messages. Default `token endpoint`. */
  what?: string;
  /** The metadata field of the endpoint. Default `token_endpoint`. */
  endpointField?: 'token_endpoint' | 'revocation_endpoint' | 'device_authorization_endpoint';
  dpop?: DPoPBinding | undefined;
  /** The preset's knowledge of its vendor's errors. */
  mapError?: MapError | undefined;
}

/**
 * Runs one request of a grant through openid-client, under the caller's signal, with
 * every failure mapped to a typed error with no secret in it (core's one mapping, then
 * the preset's `mapError`). When the client's credential is a function and the server
 * answers `invalid_client`, the credential is read once more and the request sent once
 * more, so a rotated secret or key works without a restart.
 */
export async function runGrant<T>(
  server: ResolvedServer,
  clientId: string,
  auth: ClientAuthentication,
  http: HttpSettings,
  options: GrantCall,
  call: (config: client.Configuration, dpop: { DPoP: client.DPoPHandle } | undefined) => Promise<T>,
): Promise<T> {
  const what = options.what ?? 'token endpoint';
  const { signal, mapError } = options;
  let rotatable = false;
  const attempt = async (reread: boolean): Promise<T> => {
    const observed: Observed = {};
    const secrets: string[] = [...(options.extraSecrets ?? [])];
    const metadata = await server.metadata(http, signal);
    const field = options.endpointField ?? 'token_endpoint';
    // RFC 8705 §5: a client authenticating with its certificate uses the server's mTLS
    // aliases where it publishes them (openid-client picks them by use_mtls_endpoint_aliases).
    const mtls = isMutualTls(auth);
    const alias = mtls ? metadata.mtls_endpoint_aliases?.[field] : undefined;
    const url = new URL(alias ?? metadata[field] ?? server.tokenEndpointHint);
    const endpoint = `${url.origin}${url.pathname}`;
    let prepared: Awaited<ReturnType<ClientAuthentication['prepare']>>;
    try {
      prepared = await auth.prepare(reread, clientId, url.href);
    } catch (error) {
      throw toTokenEndpointError(error, {
        endpoint,
        what,
        credential: 'the secret, key or signer function',
        secrets,
      });
    }
    const preparedSecrets = prepared.secrets; // read when an error is mapped: an assertion is added as it is signed
    rotatable = prepared.rotatable;
    try {
      const config = new client.Configuration(
        metadata,
        clientId,
        mtls ? { use_mtls_endpoint_aliases: true } : undefined,
        prepared.auth,
      );
      if (server.insecure) client.allowInsecureRequests(config);
      config.timeout = 0; // openid-client's own 30 s timer off: the caller's signal is the one timeout
      config[client.customFetch] = endpointFetch(http, signal, observed, what);
      return await call(config, options.dpop ? { DPoP: await options.dpop.handle() } : undefined);
    } catch (error) {
      if (signal?.aborted) throw abortedBy(signal, endpoint, what);
      // openid-client wraps what a client authentication threw (a signer's typed error).
      const inner = (error as { cause?: unknown } | null)?.cause;
      if (isAuthrailError(inner)) throw inner;
      const typed = endpointError(error, observed, endpoint, [...secrets, ...preparedSecrets], what);
      throw mapError && isTokenEndpointError(typed) ? mapError(typed, observed.response) : typed;
    }
  };
  try {
    return await attempt(false);
  } catch (error) {
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
