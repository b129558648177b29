import * as client from 'openid-client';
import { ConfigError, checkOptions, type TokenSource } from '@authrail/core';
import type { ClientAuthentication } from './client-auth.js';
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

/** Options of {@link clientCredentials}. */
export interface ClientCredentialsOptions extends GrantOptions {
  /** The authorization server: discovered, or its endpoints given directly. */
  server: ServerOptions;
  /** The OAuth client id. */
  clientId: string;
  /** How the client authenticates: `clientSecretPost`, `clientSecretBasic`, `privateKeyJwt`, `tlsClientAuth` or `selfSignedTlsClientAuth`. */
  clientAuth: ClientAuthentication;
  /** Requested scope, space separated. */
  scope?: string;
  /** RFC 8707 resource indicator(s): absolute URIs without a fragment. */
  resource?: string | readonly string[];
  /** Extra token request parameters (e.g. `audience`). Part of the store key: tokens for another audience are kept apart. */
  parameters?: Readonly<Record<string, string>>;
  /**
   * For presets: the vendor's errors, mapped from core's typed error and the response it
   * came from (Okta's `errorCode`, its `X-Rate-Limit-Reset`). Default: as they are.
   */
  mapError?: MapError;
}

/**
 * A {@link TokenSource} for the client credentials grant (RFC 6749 §4.4), on openid-client.
 *
 * @example
 * ```ts
 * const source = clientCredentials({
 *   server: { issuer: 'https://org.okta.com/oauth2/default', tokenEndpoint: 'https://org.okta.com/oauth2/default/v1/token' },
 *   clientId: 'ctrp-client',
 *   clientAuth: clientSecretBasic(process.env.CTRP_SECRET!),
 *   scope: 'ctrp.accrual',
 * });
 * const strategy = createAuthStrategy({ source, origins: ['https://ctrp.example.org'] });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function clientCredentials(options: ClientCredentialsOptions): TokenSource {
  checkOptions(options, [...CLIENT_GRANT_KEYS, 'parameters']);
  const grant = checkClientGrant(options);
  if (grant.auth.method === 'none')
    throw new ConfigError('client credentials need a confidential client (not none())', {
      option: 'clientAuth',
    });
  const parameters = requestParameters(grant);
  return {
    identity: identityOf(grant),
    ...(grant.dpop ? { dpop: grant.dpop } : {}),
    fetchToken: (request) =>
      // Some servers issue refresh tokens even here; used when the manager passes one.
      requestToken(grant, request, [], (config, proof) =>
        client.clientCredentialsGrant(config, parameters, proof),
      ),
  };
}
