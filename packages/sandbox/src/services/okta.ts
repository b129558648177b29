// Okta custom authorization server: /oauth2/{authServerId}/v1/token with Basic or post
// client auth; errors in the OAuth shape, and Okta's own errorCode shape for resources
// that do not exist.
import { basicCredentials, formOf, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import { clientAuthOf } from './common.js';

export const OKTA_AUTH_SERVER = 'default';

function oktaNotFound(ex: Exchange, id: string): void {
  sendJson(ex, 404, {
    errorCode: 'E0000007',
    errorSummary: `Not found: Resource not found: ${id} (AuthorizationServer)`,
    errorLink: 'E0000007',
    errorId: `oae${randomToken(8)}`,
    errorCauses: [],
  });
}

/** Handles `/oauth2/{id}/...`; returns false when the path is not Okta's. */
export function oktaRoute(ex: Exchange, state: SandboxState, baseUrl: string): boolean {
  const match =
    /^\/oauth2\/([^/]+)\/(v1\/token|\.well-known\/(?:oauth-authorization-server|openid-configuration))$/.exec(
      ex.url.pathname,
    );
  if (!match) return false;
  const [, serverId, what] = match as unknown as [string, string, string];
  if (serverId !== OKTA_AUTH_SERVER) {
    oktaNotFound(ex, serverId);
    return true;
  }
  const issuer = `${baseUrl}/oauth2/${serverId}`;
  if (what !== 'v1/token') {
    sendJson(ex, 200, {
      issuer,
      token_endpoint: `${issuer}/v1/token`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['token'],
    });
    return true;
  }
  oktaToken(ex, state);
  return true;
}

function oktaToken(ex: Exchange, state: SandboxState): void {
  if (ex.req.method !== 'POST')
    return sendJson(ex, 405, { error: 'invalid_request', error_description: 'POST only' });
  const form = formOf(ex);
  ex.record.clientAuth = clientAuthOf(ex, form);
  ex.record.grantType = form.get('grant_type') ?? undefined;
  const basic = basicCredentials(ex);
  const clientId = basic?.clientId ?? form.get('client_id') ?? undefined;
  const clientSecret = basic?.clientSecret ?? form.get('client_secret') ?? undefined;
  ex.record.clientId = clientId;
  const client = state.client('okta', clientId);
  if (!client || !clientSecret || client.clientSecret !== clientSecret) {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description:
        'Client authentication failed. Either the client or the client credentials are invalid.',
    });
  }
  if (form.get('grant_type') !== 'client_credentials') {
    return sendJson(ex, 400, {
      error: 'unsupported_grant_type',
      error_description: 'The authorization grant type is not supported by the authorization server.',
    });
  }
  const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
  const allowed = client.scopes ?? [];
  const unknown = requested.filter((s) => !allowed.includes(s));
  if (requested.length === 0 || unknown.length > 0) {
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: `One or more scopes are not configured for the authorization server resource: ${unknown.join(' ') || '(none requested)'}`,
    });
  }
  const scope = requested.join(' ');
  const { accessToken, expiresIn } = state.issue('okta', client.clientId, scope);
  sendJson(
    ex,
    200,
    { token_type: 'Bearer', expires_in: expiresIn, access_token: accessToken, scope },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
  );
}
