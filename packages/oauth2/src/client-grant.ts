import * as client from 'openid-client';
import { ConfigError, type FetchTokenOptions, type Token, type TokenSourceIdentity } from '@authrail/core';
import { checkClientAuth, type ClientAuthentication } from './client-auth.js';
import { dpopBinding, type DPoPBinding } from './dpop.js';
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
import { checkHttp, type HttpSettings } from './http.js';
import { resolveServer, type ResolvedServer, type ServerOptions } from './server.js';

/**
 * The options every grant of an OAuth client has (each grant types and documents them in
 * its own options), as {@link checkClientGrant} reads them: unchecked.
 */
type ClientGrantOptions = GrantOptions & { server: ServerOptions } & Partial<
    Record<'clientId' | 'clientAuth' | 'scope' | 'resource' | 'parameters' | 'mapError', unknown>
  >;

/** The keys of the options every client grant has but `parameters`, which not every grant takes. */
export const CLIENT_GRANT_KEYS = [
  'server',
  'clientId',
  'clientAuth',
  'scope',
  'resource',
  'mapError',
  ...GRANT_KEYS,
] as const;

/** A client's grant options, checked once at construction. */
export interface ClientGrant {
  server: ResolvedServer;
  clientId: string;
  auth: ClientAuthentication;
  http: HttpSettings;
  scope: string | undefined;
  /** The `parameters` option. */
  extra: Record<string, string>;
  resources: string[];
  dpop: DPoPBinding | undefined;
  mapError: MapError | undefined;
}

/**
 * Checks the options every client grant shares, so each grant checks only its own.
 * `defaultAuth` is the client authentication when the option is left out (`none()` for
 * public clients); without it `clientAuth` is required.
 *
 * @throws `ConfigError` naming the option
 */
export function checkClientGrant(
  options: ClientGrantOptions,
  defaultAuth?: ClientAuthentication,
): ClientGrant {
  const server = resolveServer(options.server);
  const clientId = checkClientId(options.clientId);
  const auth =
    options.clientAuth === undefined && defaultAuth ? defaultAuth : checkClientAuth(options.clientAuth);
  const http = checkHttp(options);
  if (options.scope !== undefined && typeof options.scope !== 'string')
    throw new ConfigError('must be a space-separated string', { option: 'scope' });
  const extra = checkParameters(options.parameters);
  const resources = checkResource(options.resource);
  const dpop = dpopBinding(options.dpop, clientId);
  const mapError = checkMapError(options.mapError);
  return { server, clientId, auth, http, scope: options.scope, extra, resources, dpop, mapError };
}

/** The request's parameters the options give: `parameters`, `scope` and each `resource`. */
export function requestParameters(grant: ClientGrant): URLSearchParams {
  const parameters = new URLSearchParams(grant.extra);
  if (grant.scope) parameters.set('scope', grant.scope);
  for (const resource of grant.resources) parameters.append('resource', resource);
  return parameters;
}

/**
 * The source's identity (its store key). Tokens for another resource or audience, of
 * another grant, or bound to another DPoP key, are other tokens: `parameters` names them.
 */
export function identityOf(
  grant: ClientGrant,
  parameters: Readonly<Record<string, string | readonly string[]>> = {},
): TokenSourceIdentity {
  return {
    tokenEndpoint: grant.server.tokenEndpointHint,
    clientId: grant.clientId,
    ...(grant.scope ? { scope: grant.scope } : {}),
    parameters: {
      ...grant.extra,
      ...parameters,
      ...(grant.resources.length ? { resource: grant.resources } : {}),
      ...(grant.dpop ? { dpop: grant.dpop.keyId } : {}),
    },
  };
}

/**
 * One token request of the grant through {@link runGrant}: a refresh when the token
 * manager passes a refresh token, else `call` (a grant that gets its first token another
 * way passes none). `secrets` are what the request sends besides the client's credential
 * (an assertion, a subject token), kept out of errors.
 */
export async function requestToken(
  grant: ClientGrant,
  request: FetchTokenOptions,
  secrets: readonly string[] = [],
  call?: (
    config: client.Configuration,
    dpop: { DPoP: client.DPoPHandle } | undefined,
  ) => Promise<client.TokenEndpointResponse>,
): Promise<Token> {
  const { signal, refreshToken, now } = request;
  const response = await runGrant(
    grant.server,
    grant.clientId,
    grant.auth,
    grant.http,
    {
      ...(signal ? { signal } : {}),
      extraSecrets: [...secrets, refreshToken ?? ''].filter(Boolean),
      dpop: grant.dpop,
      mapError: grant.mapError,
    },
    (config, proof) =>
      refreshToken || !call
        ? client.refreshTokenGrant(config, refreshToken ?? '', undefined, proof)
        : call(config, proof),
  );
  return tokenFrom(response, refreshToken, grant.dpop, now);
}
