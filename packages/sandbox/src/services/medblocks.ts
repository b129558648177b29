// Medblocks: backend client credentials (Basic), browser authorization code + PKCE with a
// sign-in page, rotating refresh tokens, revocation, and FHIR. token_type comes back
// lowercase, as the real service sends it.
import { basicCredentials, formOf, methodNotAllowed, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import { authorize, codeFlowGrant, type CodeFlow } from './code-flow.js';
import { deviceAuthorization, deviceCodeGrant, verificationPage } from './device.js';
import { authenticate, badGrant, outcome, patientBundle, readTokenRequest, tokenResponse } from './common.js';
import { nonceHeader, tokenRequestBinding } from './dpop.js';

/** Path prefix of everything Medblocks. */
export const MEDBLOCKS_PREFIX = '/medblocks';

/** The device authorization endpoint (RFC 8628), under the prefix. */
export const MEDBLOCKS_DEVICE_PATH = '/oauth2/device/auth';

/** The device flow's verification page, where a person enters the code, under the prefix. */
export const MEDBLOCKS_VERIFY_PATH = '/device';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const MEDBLOCKS_FLOW: CodeFlow = {
  service: 'medblocks',
  title: 'Medblocks',
  tokenType: 'bearer',
  defaultScope: 'openid offline_access user/*.read',
};
/** The code flow's tokens are bound to a DPoP key when the token request carries a proof. */
const medblocksFlow = (state: SandboxState): CodeFlow => ({
  ...MEDBLOCKS_FLOW,
  tokenBinding: (ex) => tokenRequestBinding(ex, state.dpop),
});

function token(ex: Exchange, state: SandboxState): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  const { form, grantType: grant } = request;
  const client = state.client('medblocks', request.clientId);
  if (!client) return sendJson(ex, 401, { error: 'invalid_client', error_description: 'Unknown client' });
  if (client.clientSecret !== undefined && request.clientSecret !== client.clientSecret) {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description: 'Client authentication failed',
    });
  }

  if (grant === 'client_credentials') {
    if (client.clientSecret === undefined)
      return sendJson(ex, 400, {
        error: 'unauthorized_client',
        error_description: 'Public clients cannot use client_credentials',
      });
    const scope = form.get('scope') ?? 'user/*.read';
    const binding = tokenRequestBinding(ex, state.dpop);
    const nonce = nonceHeader(state.dpop);
    if ('error' in binding)
      return sendJson(ex, 400, { error: binding.error, error_description: binding.description }, nonce);
    const issued = state.issue('medblocks', client.clientId, scope, binding.jkt);
    return tokenResponse(
      ex,
      {
        access_token: issued.accessToken,
        token_type: binding.jkt ? 'DPoP' : 'bearer',
        expires_in: issued.expiresIn,
        scope,
      },
      nonce,
    );
  }

  if (codeFlowGrant(ex, state, medblocksFlow(state), request, client)) return;
  if (grant === DEVICE_CODE_GRANT) return deviceCodeGrant(ex, state, MEDBLOCKS_FLOW, form, client);

  badGrant(ex, grant, ['client_credentials', 'authorization_code', 'refresh_token', DEVICE_CODE_GRANT]);
}

function revoke(ex: Exchange, state: SandboxState): void {
  if (ex.req.method !== 'POST') return methodNotAllowed(ex, 'POST');
  const form = formOf(ex);
  ex.record.clientId = basicCredentials(ex)?.clientId ?? form.get('client_id') ?? undefined;
  const value = form.get('token') ?? '';
  const access = state.tokens.get(value);
  if (access) access.revoked = true;
  const refresh = state.refreshTokens.get(value);
  if (refresh) refresh.revoked = true;
  sendJson(ex, 200, {}); // RFC 7009: 200 whether or not the token was known
}

function fhir(ex: Exchange, state: SandboxState, base: string, path: string): void {
  if (!authenticate(ex, state, ['medblocks'])) return;
  const json = { 'Content-Type': 'application/fhir+json' };
  if (ex.req.method === 'GET' && /^\/Patient\/?$/.test(path))
    return sendJson(ex, 200, patientBundle(base), json);
  const single = /^\/Patient\/([^/]+)$/.exec(path);
  if (ex.req.method === 'GET' && single)
    return sendJson(ex, 200, { resourceType: 'Patient', id: single[1] }, json);
  if (ex.req.method === 'POST' && /^\/Patient\/?$/.test(path)) {
    if (!(ex.req.headers['content-type'] ?? '').startsWith('application/fhir+json')) {
      return outcome(ex, 415, 'not-supported', 'Content-Type must be application/fhir+json');
    }
    let resource: Record<string, unknown>;
    try {
      resource = JSON.parse(ex.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return outcome(ex, 400, 'invalid', 'The body is not JSON');
    }
    return sendJson(ex, 201, { ...resource, resourceType: 'Patient', id: randomToken(6) }, json);
  }
  outcome(ex, 404, 'not-found', `No route for ${ex.req.method} ${path}`);
}

/**
 * Routes `/medblocks/...`: token, authorize (at `/oauth2/auth` and `/oauth2/authorize`),
 * revoke, the device flow (its authorization endpoint and verification page), discovery
 * and FHIR. Returns false when it is not a Medblocks path.
 */
export function medblocksRoute(ex: Exchange, state: SandboxState, baseUrl: string): boolean {
  const path = ex.url.pathname.slice(MEDBLOCKS_PREFIX.length);
  const base = `${baseUrl}${MEDBLOCKS_PREFIX}`;
  if (path === '/oauth2/token') token(ex, state);
  else if (path === '/oauth2/auth' || path === '/oauth2/authorize') authorize(ex, state, MEDBLOCKS_FLOW);
  else if (path === '/oauth2/revoke') revoke(ex, state);
  else if (path === MEDBLOCKS_DEVICE_PATH)
    deviceAuthorization(ex, state, 'medblocks', `${base}${MEDBLOCKS_VERIFY_PATH}`);
  else if (path === MEDBLOCKS_VERIFY_PATH) verificationPage(ex, state, 'Medblocks');
  else if (
    path === '/.well-known/openid-configuration' ||
    path === '/.well-known/oauth-authorization-server'
  ) {
    sendJson(ex, 200, {
      issuer: base,
      authorization_endpoint: `${base}/oauth2/auth`,
      token_endpoint: `${base}/oauth2/token`,
      revocation_endpoint: `${base}/oauth2/revoke`,
      device_authorization_endpoint: `${base}${MEDBLOCKS_DEVICE_PATH}`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
    });
  } else if (path === '/fhir' || path.startsWith('/fhir/'))
    fhir(ex, state, `${base}/fhir`, path.slice('/fhir'.length));
  else return false;
  return true;
}
