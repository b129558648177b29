import * as client from 'openid-client';
import { ConfigError, checkOptions, type TokenSource } from '@authrail/core';
import { assertionReader, type AssertionInput } from './assertion.js';
import { none, type ClientAuthentication } from './client-auth.js';
import {
  CLIENT_GRANT_KEYS,
  checkClientGrant,
  identityOf,
  requestParameters,
  requestToken,
} from './client-grant.js';
import type { MapError } from './errors.js';
import type { GrantOptions } from './grant.js';
import type { ServerOptions } from './server.js';

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
  checkOptions(options, [...CLIENT_GRANT_KEYS, 'parameters', 'assertion']);
  const grant = checkClientGrant(options, none());
  const read = assertionReader(options.assertion, 'assertion');
  if ('assertion' in grant.extra)
    throw new ConfigError('assertion is set by the grant (use its own option)', { option: 'parameters' });
  return {
    identity: identityOf(grant, { grant_type: JWT_BEARER_GRANT }),
    ...(grant.dpop ? { dpop: grant.dpop } : {}),
    async fetchToken(request) {
      // Read before the request, so an unreadable or expired assertion never reaches the server.
      const assertion = request.refreshToken ? undefined : await read();
      const parameters = requestParameters(grant);
      if (assertion) parameters.set('assertion', assertion);
      return requestToken(grant, request, assertion ? [assertion] : [], (config, proof) =>
        client.genericGrantRequest(config, JWT_BEARER_GRANT, parameters, proof),
      );
    },
  };
}
