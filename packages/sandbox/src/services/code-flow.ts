// The authorization code flow as the sandbox's services run it (Medblocks, SMART App
// Launch): a sign-in page, PKCE S256 always, single-use codes bound to the client, the
// redirect URI and the verifier, rotating refresh tokens. Each service says what differs:
// its name on the page, its token type, what else an authorize request must carry, and
// what else a token response says (SMART's launch context).
import { escapeHtml, formOf, redirect, sendHtml, sendJson, type Exchange } from '../http.js';
import { randomToken, s256, type SandboxState } from '../state.js';
import type { SandboxClient, SandboxService } from '../types.js';
import { tokenResponse, type TokenRequest } from './common.js';
import { nonceHeader } from './dpop.js';

/** What one service's code flow looks like. */
export interface CodeFlow {
  service: SandboxService;
  /** The service's name on the sign-in page. */
  title: string;
  /** `token_type` as the service spells it. */
  tokenType: string;
  /** The scope when the authorize request names none. */
  defaultScope: string;
  /**
   * Checks an authorize request beyond client, redirect URI and PKCE: an OAuth error to
   * send back, or what the token response of its code adds (the launch context).
   */
  authorizeCheck?: (
    params: URLSearchParams,
  ) => { error: string; description: string } | { context: Record<string, unknown> };
  /** An OpenID Connect ID token for each token of the grant (code exchange and refresh), when the scope asks for one (`openid`). */
  idToken?: (clientId: string, scope: string) => string | undefined;
  /** Binds the token to a DPoP key: checks a proof on the token request, if the service does. */
  tokenBinding?: (ex: Exchange) => { jkt?: string } | { error: string; description: string };
}

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

/** The sign-in page (GET) and its form (POST): a code for the redirect URI, or an error sent back to it. */
export function authorize(ex: Exchange, state: SandboxState, flow: CodeFlow): void {
  if (ex.req.method !== 'GET' && ex.req.method !== 'POST') {
    return sendHtml(ex, 405, page(flow, 'Error', '<p class="error">Use GET (or POST the sign-in form).</p>'));
  }
  const params = ex.req.method === 'POST' ? formOf(ex) : ex.url.searchParams;
  const clientId = params.get('client_id') ?? '';
  const redirectUri = params.get('redirect_uri') ?? '';
  const client = state.client(flow.service, clientId);
  ex.record.clientId = clientId || undefined;
  if (!client) return sendHtml(ex, 400, page(flow, 'Error', `<p class="error">Unknown client_id.</p>`));
  if (!redirectUri || !redirectAllowed(client, redirectUri)) {
    return sendHtml(
      ex,
      400,
      page(flow, 'Error', `<p class="error">redirect_uri is not registered for this client.</p>`),
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
  const checked = flow.authorizeCheck?.(params);
  if (checked && 'error' in checked)
    return back({ error: checked.error, error_description: checked.description });
  if (ex.req.method !== 'POST') return sendHtml(ex, 200, loginForm(flow, params));

  const forward = new URLSearchParams(
    [...params].filter(([k]) => !['username', 'password', 'decision'].includes(k)),
  );
  if (params.get('decision') === 'deny')
    return back({ error: 'access_denied', error_description: 'The user denied the request' });
  const user = state.users.find(
    (u) => u.username === params.get('username') && u.password === params.get('password'),
  );
  if (!user) return sendHtml(ex, 401, loginForm(flow, forward, 'Wrong username or password.'));
  const code = randomToken(24);
  state.codes.set(code, {
    clientId,
    redirectUri,
    codeChallenge: params.get('code_challenge')!,
    scope: params.get('scope') ?? flow.defaultScope,
    expiresAt: Date.now() + CODE_LIFETIME_MS,
    ...(checked ? { context: checked.context } : {}),
  });
  back({ code });
}

/**
 * The code-flow grants of a token request (`authorization_code`, `refresh_token`) for a
 * client already authenticated. Returns false for any other grant.
 */
export function codeFlowGrant(
  ex: Exchange,
  state: SandboxState,
  flow: CodeFlow,
  request: TokenRequest,
  client: SandboxClient,
): boolean {
  const { form, grantType: grant } = request;
  if (grant !== 'authorization_code' && grant !== 'refresh_token') return false;
  // The proof is checked before the code or refresh token is used up, as servers do: a
  // request refused for its DPoP nonce can be sent again with the same code.
  const binding = flow.tokenBinding?.(ex) ?? {};
  if ('error' in binding) {
    sendJson(
      ex,
      400,
      { error: binding.error, error_description: binding.description },
      nonceHeader(state.dpop),
    );
    return true;
  }
  if (grant === 'authorization_code') exchangeCode(ex, state, flow, form, client, binding.jkt);
  else refresh(ex, state, flow, form, client, binding.jkt);
  return true;
}

/** `authorization_code`: a single-use code, its redirect URI and its PKCE verifier. */
function exchangeCode(
  ex: Exchange,
  state: SandboxState,
  flow: CodeFlow,
  form: URLSearchParams,
  client: SandboxClient,
  jkt: string | undefined,
): void {
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
    return sendJson(ex, 400, {
      error: 'invalid_grant',
      error_description: 'redirect_uri does not match',
    });
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
  return issueWithRefresh(ex, state, flow, client.clientId, pending.scope, {
    context: pending.context,
    restate: true,
    jkt,
  });
}

/** `refresh_token`: rotated, every refresh token single use. */
function refresh(
  ex: Exchange,
  state: SandboxState,
  flow: CodeFlow,
  form: URLSearchParams,
  client: SandboxClient,
  jkt: string | undefined,
): void {
  const presented = form.get('refresh_token') ?? '';
  const grantRecord = state.refreshTokens.get(presented);
  if (!grantRecord || grantRecord.revoked || grantRecord.clientId !== client.clientId) {
    return sendJson(ex, 400, {
      error: 'invalid_grant',
      error_description: 'The refresh token is invalid, revoked or was already used',
    });
  }
  grantRecord.revoked = true; // rotation: every refresh token is single use
  return issueWithRefresh(ex, state, flow, client.clientId, grantRecord.scope, {
    context: grantRecord.context,
    restate: false,
    jkt,
  });
}

/**
 * Issues an access token and a rotated refresh token. The sign-in's context (SMART's
 * launch) binds every token of the grant to its patient; it is sent with the code's token
 * only, as SMART allows, while an ID token is sent with every token of an `openid` grant
 * (OpenID Connect Core §12.2), the refreshed ones included.
 */
export function issueWithRefresh(
  ex: Exchange,
  state: SandboxState,
  flow: CodeFlow,
  clientId: string,
  scope: string,
  grant: { context: Record<string, unknown> | undefined; restate: boolean; jkt: string | undefined },
): void {
  const { context, jkt } = grant;
  const patient = typeof context?.patient === 'string' ? context.patient : undefined;
  const issued = state.issue(flow.service, clientId, scope, jkt, patient);
  const refreshToken = randomToken(32);
  state.refreshTokens.set(refreshToken, { clientId, scope, revoked: false, ...(context ? { context } : {}) });
  const idToken = flow.idToken?.(clientId, scope);
  tokenResponse(
    ex,
    {
      ...(grant.restate ? context : {}),
      ...(idToken ? { id_token: idToken } : {}),
      access_token: issued.accessToken,
      token_type: jkt ? 'DPoP' : flow.tokenType,
      expires_in: issued.expiresIn,
      scope,
      refresh_token: refreshToken,
    },
    nonceHeader(state.dpop),
  );
}

function page(flow: CodeFlow, title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#1d2939}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.4rem;font-size:1rem}
button{margin-top:1rem;margin-right:.5rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#b42318}</style></head>
<body><h1>${escapeHtml(flow.title)} sandbox</h1>${body}</body></html>`;
}

function loginForm(flow: CodeFlow, params: URLSearchParams, error?: string): string {
  const hidden = [...params]
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(
    flow,
    `Sign in — ${flow.title} sandbox`,
    `<p>Sign in to let <strong>${escapeHtml(params.get('client_id') ?? '')}</strong> read patient data.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post">${hidden}
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" name="decision" value="allow">Sign in</button><button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
