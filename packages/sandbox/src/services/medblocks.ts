// Medblocks: backend client credentials (Basic), browser authorization code + PKCE with a
// sign-in page, rotating refresh tokens, revocation, and FHIR. token_type comes back
// lowercase, as the real service sends it.
import {
  basicCredentials,
  escapeHtml,
  formOf,
  methodNotAllowed,
  redirect,
  sendHtml,
  sendJson,
  type Exchange,
} from '../http.js';
import { randomToken, s256, type SandboxState } from '../state.js';
import type { SandboxClient } from '../types.js';
import { authenticate, badGrant, outcome, patientBundle, readTokenRequest, tokenResponse } from './common.js';

/** Path prefix of everything Medblocks. */
export const MEDBLOCKS_PREFIX = '/medblocks';
/** How long an authorization code may be exchanged. */
const CODE_LIFETIME_MS = 60_000;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Whether a redirect URI may receive codes: one of the client's `redirectUris` exactly,
 * or by default any `http:` URI on a loopback host (parsed, so `http://localhost.evil/`
 * and `http://127.0.0.1@evil/` are refused).
 */
function redirectAllowed(client: SandboxClient, uri: string): boolean {
  if (client.redirectUris) return client.redirectUris.includes(uri);
  try {
    const url = new URL(uri);
    return (
      url.protocol === 'http:' &&
      LOOPBACK_HOSTS.has(url.hostname) &&
      !url.username &&
      !url.password &&
      !url.hash
    );
  } catch {
    return false;
  }
}

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
    const issued = state.issue('medblocks', client.clientId, scope);
    return tokenResponse(ex, {
      access_token: issued.accessToken,
      token_type: 'bearer',
      expires_in: issued.expiresIn,
      scope,
    });
  }

  if (grant === 'authorization_code') {
    const code = form.get('code') ?? '';
    const pending = state.codes.get(code);
    state.codes.delete(code); // single use, whatever happens next
    if (!pending || pending.clientId !== client.clientId || Date.now() > pending.expiresAt) {
      return sendJson(ex, 400, {
        error: 'invalid_grant',
        error_description: 'The authorization code is invalid or expired',
      });
    }
    if (form.get('redirect_uri') !== pending.redirectUri) {
      return sendJson(ex, 400, { error: 'invalid_grant', error_description: 'redirect_uri does not match' });
    }
    const verifier = form.get('code_verifier');
    if (!verifier)
      return sendJson(ex, 400, {
        error: 'invalid_request',
        error_description: 'code_verifier is required (PKCE)',
      });
    if (s256(verifier) !== pending.codeChallenge) {
      return sendJson(ex, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
    return issueWithRefresh(ex, state, client.clientId, pending.scope);
  }

  if (grant === 'refresh_token') {
    const presented = form.get('refresh_token') ?? '';
    const grantRecord = state.refreshTokens.get(presented);
    if (!grantRecord || grantRecord.revoked || grantRecord.clientId !== client.clientId) {
      return sendJson(ex, 400, {
        error: 'invalid_grant',
        error_description: 'The refresh token is invalid, revoked or was already used',
      });
    }
    grantRecord.revoked = true; // rotation: every refresh token is single use
    return issueWithRefresh(ex, state, client.clientId, grantRecord.scope);
  }

  badGrant(ex, grant, ['client_credentials', 'authorization_code', 'refresh_token']);
}

function issueWithRefresh(ex: Exchange, state: SandboxState, clientId: string, scope: string): void {
  const issued = state.issue('medblocks', clientId, scope);
  const refreshToken = randomToken(32);
  state.refreshTokens.set(refreshToken, { clientId, scope, revoked: false });
  tokenResponse(ex, {
    access_token: issued.accessToken,
    token_type: 'bearer',
    expires_in: issued.expiresIn,
    scope,
    refresh_token: refreshToken,
  });
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#1d2939}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.4rem;font-size:1rem}
button{margin-top:1rem;margin-right:.5rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#b42318}</style></head>
<body><h1>Medblocks sandbox</h1>${body}</body></html>`;
}

function loginForm(params: URLSearchParams, error?: string): string {
  const hidden = [...params]
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(
    'Sign in — Medblocks sandbox',
    `<p>Sign in to let <strong>${escapeHtml(params.get('client_id') ?? '')}</strong> read patient data.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post">${hidden}
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" name="decision" value="allow">Sign in</button><button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

function authorize(ex: Exchange, state: SandboxState): void {
  if (ex.req.method !== 'GET' && ex.req.method !== 'POST') {
    return sendHtml(ex, 405, page('Error', '<p class="error">Use GET (or POST the sign-in form).</p>'));
  }
  const params = ex.req.method === 'POST' ? formOf(ex) : ex.url.searchParams;
  const clientId = params.get('client_id') ?? '';
  const redirectUri = params.get('redirect_uri') ?? '';
  const client = state.client('medblocks', clientId);
  ex.record.clientId = clientId || undefined;
  if (!client) return sendHtml(ex, 400, page('Error', `<p class="error">Unknown client_id.</p>`));
  if (!redirectUri || !redirectAllowed(client, redirectUri)) {
    return sendHtml(
      ex,
      400,
      page('Error', `<p class="error">redirect_uri is not registered for this client.</p>`),
    );
  }
  const back = (query: Record<string, string>) => {
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries(query)) target.searchParams.set(k, v);
    const state_ = params.get('state');
    if (state_) target.searchParams.set('state', state_);
    redirect(ex, target.href);
  };
  if (params.get('response_type') !== 'code')
    return back({ error: 'unsupported_response_type', error_description: 'response_type must be code' });
  if (!params.get('code_challenge') || params.get('code_challenge_method') !== 'S256') {
    return back({
      error: 'invalid_request',
      error_description: 'PKCE with code_challenge_method=S256 is required',
    });
  }
  if (ex.req.method !== 'POST') return sendHtml(ex, 200, loginForm(params));

  const forward = new URLSearchParams(
    [...params].filter(([k]) => !['username', 'password', 'decision'].includes(k)),
  );
  if (params.get('decision') === 'deny')
    return back({ error: 'access_denied', error_description: 'The user denied the request' });
  const user = state.users.find(
    (u) => u.username === params.get('username') && u.password === params.get('password'),
  );
  if (!user) return sendHtml(ex, 401, loginForm(forward, 'Wrong username or password.'));
  const code = randomToken(24);
  state.codes.set(code, {
    clientId,
    redirectUri,
    codeChallenge: params.get('code_challenge')!,
    scope: params.get('scope') ?? 'openid offline_access user/*.read',
    expiresAt: Date.now() + CODE_LIFETIME_MS,
  });
  back({ code });
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
 * revoke, discovery and FHIR. Returns false when it is not a Medblocks path.
 */
export function medblocksRoute(ex: Exchange, state: SandboxState, baseUrl: string): boolean {
  const path = ex.url.pathname.slice(MEDBLOCKS_PREFIX.length);
  const base = `${baseUrl}${MEDBLOCKS_PREFIX}`;
  if (path === '/oauth2/token') token(ex, state);
  else if (path === '/oauth2/auth' || path === '/oauth2/authorize') authorize(ex, state);
  else if (path === '/oauth2/revoke') revoke(ex, state);
  else if (
    path === '/.well-known/openid-configuration' ||
    path === '/.well-known/oauth-authorization-server'
  ) {
    sendJson(ex, 200, {
      issuer: base,
      authorization_endpoint: `${base}/oauth2/auth`,
      token_endpoint: `${base}/oauth2/token`,
      revocation_endpoint: `${base}/oauth2/revoke`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
    });
  } else if (path === '/fhir' || path.startsWith('/fhir/'))
    fhir(ex, state, `${base}/fhir`, path.slice('/fhir'.length));
  else return false;
  return true;
}
