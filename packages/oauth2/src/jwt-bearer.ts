import * as client from 'openid-client';
import { ConfigError, checkOptions, type TokenSource } from '@authrail/core';
import { assertionReader, type AssertionInput } from './assertion.js';
import { checkClientAuth, none, type ClientAuthentication } from './client-auth.js';
import { dpopBinding } from './dpop.js';
import type { MapError } from './errors.js';
import {
  GRANT_KEYS,
  checkClientId,
  checkMapError,
  checkParameters,
  checkResource,
  runGrant,
  tokenFrom,
  type GrantOptions,
} from './grant.js';
import { checkHttp } from './http.js';
import { resolveServer, type ServerOptions } from './server.js';

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Options of {@link jwtBearer}. */
export interface JwtBearerOptions extends GrantOptions {
  /** The authorization server: discovered, or its endpoints given directly. */
  server: ServerOptions;
  /** The OAuth client id. */
  clientId: string;
  /**
   * The JWT the grant is made with, or a function that reads it for every token request:
   * {@link assertionFromFile} for a Kubernetes projected service-account token or a CI
   * job's OIDC token. An assertion past its `exp` is never sent.
   */
  assertion: AssertionInput;
  /** How the client authenticates besides the assertion. Default `none()`: the assertion is the credential (RFC 7523 §3.1). */
  clientAuth?: ClientAuthentication;
  /** Requested scope, space separated. */
  scope?: string;
  /** RFC 8707 resource indicator(s): absolute URIs without a fragment. */
  resource?: string | readonly string[];
  /** Extra token request parameters (e.g. `audience`). Part of the store key. */
  parameters?: Readonly<Record<string, string>>;
  /** For presets: the vendor's errors, mapped from core's typed error and its response. Default: as they are. */
  mapError?: MapError;
}

/**
 * A {@link TokenSource} for the JWT bearer grant (RFC 7523 §2.1,
 * `urn:ietf:params:oauth:grant-type:jwt-bearer`), on openid-client: a JWT another
 * issuer signed is traded for an access token. The assertion is read for every token
 * request (never cached past its `exp`) and scrubbed from every error.
 *
 * The store key has the token endpoint, client id, scope and parameters, not the
 * assertion: two workloads that share a store need their own client ids (or a
 * distinguishing `parameters` entry).
 *
 * @throws `ConfigError` naming the option, for any invalid option
 * @example
 * ```ts
 * const strategy = createAuthStrategy({
 *   source: jwtBearer({
 *     server: { issuer: 'https://login.example.org', discovery: true },
 *     clientId: 'orders-workload',
 *     assertion: assertionFromFile('/var/run/secrets/tokens/authrail'),
 *     resource: 'https://orders.example.org/',
 *   }),
 *   origins: ['https://orders.example.org'],
 * });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export function jwtBearer(options: JwtBearerOptions): TokenSource {
  checkOptions(options, [
    'server',
    'clientId',
    'assertion',
    'clientAuth',
    'scope',
    'resource',
    'parameters',
    'mapError',
    ...GRANT_KEYS,
  ]);
  const server = resolveServer(options.server);
  const clientId = checkClientId(options.clientId);
  const read = assertionReader(options.assertion, 'assertion');
  const auth = options.clientAuth === undefined ? none() : checkClientAuth(options.clientAuth);
  const http = checkHttp(options);
  if (options.scope !== undefined && typeof options.scope !== 'string')
    throw new ConfigError('must be a space-separated string', { option: 'scope' });
  const extra = checkParameters(options.parameters);
  if ('assertion' in extra)
    throw new ConfigError('assertion is set by the grant (use its own option)', { option: 'parameters' });
  const resources = checkResource(options.resource);
  const dpop = dpopBinding(options.dpop, clientId);
  const mapError = checkMapError(options.mapError);

  return {
    identity: {
      tokenEndpoint: server.tokenEndpointHint,
      clientId,
      ...(options.scope ? { scope: options.scope } : {}),
      parameters: {
        ...extra,
        grant_type: JWT_BEARER_GRANT,
        ...(resources.length ? { resource: resources } : {}),
        ...(dpop ? { dpop: dpop.keyId } : {}),
      },
    },
    ...(dpop ? { dpop } : {}),
    async fetchToken({ signal, refreshToken, now }) {
      // Read before the request, so an unreadable or expired assertion never reaches the server.
      const assertion = refreshToken ? undefined : await read();
      const parameters = new URLSearchParams(extra);
      if (options.scope) parameters.set('scope', options.scope);
      for (const resource of resources) parameters.append('resource', resource);
      if (assertion) parameters.set('assertion', assertion);
      const response = await runGrant(
        server,
        clientId,
        auth,
        http,
        {
          ...(signal ? { signal } : {}),
          extraSecrets: [assertion ?? '', refreshToken ?? ''].filter(Boolean),
          dpop,
          mapError,
        },
        (config, proof) =>
          refreshToken
            ? client.refreshTokenGrant(config, refreshToken, undefined, proof)
            : client.genericGrantRequest(config, JWT_BEARER_GRANT, parameters, proof),
      );
      return tokenFrom(response, refreshToken, dpop, now);
    },
  };
}
