// Okta custom authorization server: /oauth2/{authServerId}/v1/token with Basic or post
// client auth; errors in the OAuth shape, and Okta's own errorCode shape for resources
// that do not exist.
import { methodNotAllowed, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import type { SandboxClient } from '../types.js';
import { badGrant, readTokenRequest, tokenResponse, type TokenRequest } from './common.js';
import { nonceHeader, tokenRequestBinding } from './dpop.js';
import { tlsClientAuthOf } from './mtls.js';

/** RFC 8693 token exchange: Okta's On-Behalf-Of flow for a service calling an API as its caller. */
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

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
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_post',
        ...(state.mtls ? ['tls_client_auth'] : []),
      ],
      ...(state.mtls ? { tls_client_certificate_bound_access_tokens: true } : {}),
      grant_types_supported: ['client_credentials', TOKEN_EXCHANGE],
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

/**
 * Authenticates the client of a token request: by its secret, or for a `tls_client_auth`
 * client (mTLS on) by the certificate of the connection. Returns the client and the
 * thumbprint its token is bound to; otherwise answers 401 `invalid_client`.
 */
function oktaClient(
  ex: Exchange,
  state: SandboxState,
  request: TokenRequest,
): { client: SandboxClient; x5t?: string } | undefined {
  const refuse = (description: string) => {
    sendJson(ex, 401, { error: 'invalid_client', error_description: description });
    return undefined;
  };
  const generic = 'Client authentication failed. Either the client or the client credentials are invalid.';
  const client = state.client('okta', request.clientId);
  if (client?.tlsClientAuthSanDns !== undefined && state.mtls) {
    // RFC 8705 §2: the certificate is the credential; a secret beside it is not one.
    if (request.clientSecret) return refuse(generic);
    const auth = tlsClientAuthOf(ex, client.tlsClientAuthSanDns);
    if ('refused' in auth) return refuse(auth.refused);
    ex.record.clientAuth = 'tls_client_auth';
    return { client, x5t: auth.thumbprint };
  }
  if (!client || !request.clientSecret || client.clientSecret !== request.clientSecret)
    return refuse(generic);
  return { client };
}

function oktaToken(ex: Exchange, state: SandboxState): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  const authenticated = oktaClient(ex, state, request);
  if (!authenticated) return;
  const { client, x5t } = authenticated;
  if (request.grantType !== 'client_credentials' && request.grantType !== TOKEN_EXCHANGE)
    return badGrant(ex, request.grantType, ['client_credentials', TOKEN_EXCHANGE]);
  const scope = checkedScope(ex, request.form.get('scope'), client.scopes ?? []);
  if (scope === undefined) return;
  let subject: string | undefined;
  if (request.grantType === TOKEN_EXCHANGE) {
    subject = exchangedSubject(ex, state, request.form);
    if (subject === undefined) return;
  }
  // Okta binds tokens to a DPoP key when the request carries a proof.
  const binding = tokenRequestBinding(ex, state.dpop);
  const nonce = nonceHeader(state.dpop);
  if ('error' in binding)
    return sendJson(ex, 400, { error: binding.error, error_description: binding.description }, nonce);
  const { accessToken, expiresIn } = state.issue('okta', client.clientId, scope, binding.jkt);
  if (subject !== undefined) state.tokens.get(accessToken)!.subject = subject;
  if (x5t !== undefined) state.tokens.get(accessToken)!.x5t = x5t;
  tokenResponse(
    ex,
    {
      token_type: binding.jkt ? 'DPoP' : 'Bearer',
      expires_in: expiresIn,
      access_token: accessToken,
      scope,
      ...(subject === undefined ? {} : { issued_token_type: ACCESS_TOKEN_TYPE }),
    },
    nonce,
  );
}

/** The requested scope when the client may have all of it; otherwise answers 400 `invalid_scope`. */
function checkedScope(ex: Exchange, asked: string | null, allowed: readonly string[]): string | undefined {
  const requested = (asked ?? '').split(' ').filter(Boolean);
  const unknown = requested.filter((s) => !allowed.includes(s));
  if (requested.length === 0) {
    sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description:
        "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
    });
    return undefined;
  }
  if (unknown.length > 0) {
    sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: `One or more scopes are not configured for the authorization server resource: ${unknown.join(' ')}`,
    });
    return undefined;
  }
  return requested.join(' ');
}

/**
 * RFC 8693 as Okta's On-Behalf-Of flow does it: the subject token must be a live access
 * token of this server, and `audience` is required. Returns the subject the new token acts
 * for (the subject token's own subject, or the client it was issued to); otherwise answers
 * 400 and returns undefined.
 */
function exchangedSubject(ex: Exchange, state: SandboxState, form: URLSearchParams): string | undefined {
  const fail = (error: string, description: string) => {
    sendJson(ex, 400, { error, error_description: description });
    return undefined;
  };
  const token = form.get('subject_token');
  if (!token || form.get('subject_token_type') !== ACCESS_TOKEN_TYPE)
    return fail(
      'invalid_request',
      `'subject_token' and 'subject_token_type' (${ACCESS_TOKEN_TYPE}) are required.`,
    );
  if (!form.get('audience')) return fail('invalid_request', "'audience' is required.");
  const issued = state.tokens.get(token);
  if (!issued || issued.service !== 'okta' || issued.revoked || Date.now() >= issued.expiresAt)
    return fail('invalid_grant', "The 'subject_token' is invalid.");
  return issued.subject ?? issued.clientId;
}
