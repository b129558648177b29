// Okta custom authorization server: /oauth2/{authServerId}/v1/token with Basic or post
// client auth; errors in the OAuth shape, and Okta's own errorCode shape for resources
// that do not exist.
import { methodNotAllowed, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import { badGrant, readTokenRequest, tokenResponse } from './common.js';
import { nonceHeader, tokenRequestBinding } from './dpop.js';

/** The one authorization server id the sandbox knows, as in `/oauth2/default`. */
export const OKTA_AUTH_SERVER = 'default';

/** Everything under `/oauth2/{authServerId}`. */
const OKTA_PATH = /^\/oauth2\/([^/]+)(\/.*)?$/;
const METADATA = new Set(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']);

function oktaNotFound(ex: Exchange, id: string): void {
  sendJson(ex, 404, {
    errorCode: 'E0000007',
    errorSummary: `Not found: Resource not found: ${id} (AuthorizationServer)`,
    errorLink: 'E0000007',
    errorId: `oae${randomToken(8)}`,
    errorCauses: [],
  });
}

/**
 * Handles `/oauth2/{authServerId}/...`: the token endpoint and metadata of `default`;
 * any other authorization server id is a 404 in Okta's `errorCode` shape. Returns false
 * when the path is not Okta's (or not one the sandbox serves).
 */
export function oktaRoute(ex: Exchange, state: SandboxState, baseUrl: string): boolean {
  const match = OKTA_PATH.exec(ex.url.pathname);
  if (!match) return false;
  const serverId = match[1]!;
  const what = match[2] ?? '';
  if (serverId !== OKTA_AUTH_SERVER) {
    oktaNotFound(ex, serverId);
    return true;
  }
  const issuer = `${baseUrl}/oauth2/${serverId}`;
  if (what !== '/v1/token') {
    if (!METADATA.has(what)) return false;
    if (ex.req.method !== 'GET' && ex.req.method !== 'HEAD') {
      methodNotAllowed(ex, 'GET');
      return true;
    }
    sendJson(ex, 200, {
      issuer,
      token_endpoint: `${issuer}/v1/token`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['code', 'token'],
      scopes_supported: [
        ...new Set(
          [...state.clients.values()].filter((c) => c.service === 'okta').flatMap((c) => c.scopes ?? []),
        ),
      ],
    });
    return true;
  }
  oktaToken(ex, state);
  return true;
}

function oktaToken(ex: Exchange, state: SandboxState): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  const client = state.client('okta', request.clientId);
  if (!client || !request.clientSecret || client.clientSecret !== request.clientSecret) {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description:
        'Client authentication failed. Either the client or the client credentials are invalid.',
    });
  }
  if (request.grantType !== 'client_credentials')
    return badGrant(ex, request.grantType, ['client_credentials']);
  const requested = (request.form.get('scope') ?? '').split(' ').filter(Boolean);
  const allowed = client.scopes ?? [];
  const unknown = requested.filter((s) => !allowed.includes(s));
  if (requested.length === 0) {
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description:
        "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
    });
  }
  if (unknown.length > 0) {
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: `One or more scopes are not configured for the authorization server resource: ${unknown.join(' ')}`,
    });
  }
  const scope = requested.join(' ');
  // Okta binds tokens to a DPoP key when the request carries a proof.
  const binding = tokenRequestBinding(ex, state.dpop);
  const nonce = nonceHeader(state.dpop);
  if ('error' in binding)
    return sendJson(ex, 400, { error: binding.error, error_description: binding.description }, nonce);
  const { accessToken, expiresIn } = state.issue('okta', client.clientId, scope, binding.jkt);
  tokenResponse(
    ex,
    { token_type: binding.jkt ? 'DPoP' : 'Bearer', expires_in: expiresIn, access_token: accessToken, scope },
    nonce,
  );
}
