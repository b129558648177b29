import * as client from 'openid-client';
import { ConfigError, checkOptions, type TokenSource } from '@authrail/core';
import type { MapError } from './errors.js';
import { checkClientAuth, type ClientAuthentication } from './client-auth.js';
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
import { dpopBinding } from './dpop.js';
import { checkHttp } from './http.js';
import { resolveServer, type ServerOptions } from './server.js';

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
  checkOptions(options, [
    'server',
    'clientId',
    'clientAuth',
    'scope',
    'resource',
    'parameters',
    'mapError',
    ...GRANT_KEYS,
  ]);
  const server = resolveServer(options.server);
  const clientId = checkClientId(options.clientId);
  const auth = checkClientAuth(options.clientAuth);
  const http = checkHttp(options);
  if (auth.method === 'none')
    throw new ConfigError('client credentials need a confidential client (not none())', {
      option: 'clientAuth',
    });
  if (options.scope !== undefined && typeof options.scope !== 'string')
    throw new ConfigError('must be a space-separated string', { option: 'scope' });
  const extra = checkParameters(options.parameters);
  const resources = checkResource(options.resource);
  const dpop = dpopBinding(options.dpop, clientId);
  const mapError = checkMapError(options.mapError);
  const parameters = new URLSearchParams(extra);
  if (options.scope) parameters.set('scope', options.scope);
  for (const resource of resources) parameters.append('resource', resource);

  return {
    identity: {
      tokenEndpoint: server.tokenEndpointHint,
      clientId,
      ...(options.scope ? { scope: options.scope } : {}),
      // Tokens for another resource or audience, or bound to another DPoP key, are other
      // tokens: they get their own store key.
      parameters: {
        ...extra,
        ...(resources.length ? { resource: resources } : {}),
        ...(dpop ? { dpop: dpop.keyId } : {}),
      },
    },
    ...(dpop ? { dpop } : {}),
    async fetchToken({ signal, refreshToken, now }) {
      const response = await runGrant(
        server,
        clientId,
        auth,
        http,
        {
          ...(signal ? { signal } : {}),
          extraSecrets: refreshToken ? [refreshToken] : [],
          dpop,
          mapError,
        },
        // Some servers issue refresh tokens even here; use them when the manager passes one.
        (config, proof) =>
          refreshToken
            ? client.refreshTokenGrant(config, refreshToken, undefined, proof)
            : client.clientCredentialsGrant(config, parameters, proof),
      );
      return tokenFrom(response, refreshToken, dpop, now);
    },
  };
}
