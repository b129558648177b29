// The device authorization grant (RFC 8628) as the Medblocks sandbox runs it: a code pair
// for a client, a verification page where a person signs in and approves or denies, and
// the token endpoint's answers to polls (authorization_pending, slow_down for a client
// that polls faster than the interval, access_denied, expired_token). Tests and examples
// decide for the person through `sandbox.approveDevice` / `denyDevice`.
import { escapeHtml, formOf, methodNotAllowed, sendHtml, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import type { SandboxClient } from '../types.js';
import { issueWithRefresh, type CodeFlow } from './code-flow.js';
import { readTokenRequest } from './common.js';

/** A device code the sandbox issued, and what became of it. */
export interface DeviceGrant {
  /** The client it was issued to. */
  clientId: string;
  /** The code the user enters, `XXXX-XXXX`. */
  userCode: string;
  /** Scope asked for. */
  scope: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** The interval the client must keep between polls, seconds (grows by 5 with each `slow_down`). */
  interval: number;
  /** When the client last polled, epoch ms. */
  lastPollAt?: number;
  /** What the user decided; absent while nobody has. */
  decision?: 'approved' | 'denied';
}

/** The device flow's settings (`SandboxOptions.device`). */
export interface DeviceSettings {
  /** `interval` of the device authorization response, seconds. */
  intervalSeconds: number;
  /** `expires_in` of the device authorization response, seconds. */
  expiresInSeconds: number;
}

/** RFC 8628 §6.1: a user code from 20 consonants, easy to read and type. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

function userCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const chars = [...bytes].map((b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

/** What a person may type for a code: any case, with or without the dash. */
function normalUserCode(text: string): string {
  const plain = text.toUpperCase().replace(/[^A-Z]/g, '');
  return plain.length === 8 ? `${plain.slice(0, 4)}-${plain.slice(4)}` : plain;
}

/** The device authorization endpoint (RFC 8628 §3.1–3.2): a code pair for an authenticated client. */
export function deviceAuthorization(
  ex: Exchange,
  state: SandboxState,
  service: 'medblocks',
  verificationUri: string,
): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  const client = state.client(service, request.clientId);
  if (!client || (client.clientSecret !== undefined && request.clientSecret !== client.clientSecret))
    return sendJson(ex, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
  const { intervalSeconds, expiresInSeconds } = state.deviceSettings;
  const grant: DeviceGrant = {
    clientId: client.clientId,
    userCode: userCode(),
    scope: request.form.get('scope') ?? 'openid offline_access user/*.read',
    expiresAt: Date.now() + expiresInSeconds * 1000,
    interval: intervalSeconds,
  };
  const deviceCode = randomToken(32);
  state.deviceCodes.set(deviceCode, grant);
  sendJson(ex, 200, {
    device_code: deviceCode,
    user_code: grant.userCode,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${grant.userCode}`,
    expires_in: expiresInSeconds,
    interval: intervalSeconds,
  });
}

/** The grant of a user code the person may still decide on, if there is one. */
function pendingDevice(state: SandboxState, code: string): DeviceGrant | undefined {
  const wanted = normalUserCode(code);
  for (const grant of state.deviceCodes.values())
    if (grant.userCode === wanted && !grant.decision && Date.now() < grant.expiresAt) return grant;
  return undefined;
}

/**
 * The token endpoint's answer to a poll (RFC 8628 §3.4–3.5), for an authenticated client.
 * An approved code is used up by the tokens it yields.
 */
export function deviceCodeGrant(
  ex: Exchange,
  state: SandboxState,
  flow: CodeFlow,
  form: URLSearchParams,
  client: SandboxClient,
): void {
  const deviceCode = form.get('device_code') ?? '';
  const grant = state.deviceCodes.get(deviceCode);
  const refuse = (error: string, description: string) =>
    sendJson(ex, 400, { error, error_description: description });
  if (!grant || grant.clientId !== client.clientId)
    return refuse('invalid_grant', 'The device code is invalid or was already used');
  const now = Date.now();
  if (now >= grant.expiresAt) {
    state.deviceCodes.delete(deviceCode);
    return refuse('expired_token', 'The device code expired before the user approved it');
  }
  if (grant.decision === 'denied') {
    state.deviceCodes.delete(deviceCode);
    return refuse('access_denied', 'The user denied the request');
  }
  if (grant.decision === 'approved') {
    state.deviceCodes.delete(deviceCode);
    return issueWithRefresh(ex, state, flow, client.clientId, grant.scope, {
      context: undefined,
      restate: false,
      jkt: undefined,
    });
  }
  // A little slack: a client's timer and ours do not tick together.
  const tooSoon = grant.lastPollAt !== undefined && now - grant.lastPollAt < grant.interval * 1000 - 250;
  grant.lastPollAt = now;
  if (tooSoon) {
    grant.interval += 5; // RFC 8628 §3.5: the client adds 5 s too, for this and every later poll
    return refuse('slow_down', `Polled faster than every ${grant.interval - 5} s`);
  }
  refuse('authorization_pending', 'The user has not approved the request yet');
}

/** `sandbox.approveDevice` and `denyDevice`: what a person decides on the verification page. */
export function deviceDecisions(state: SandboxState): {
  approveDevice(userCode: string, options?: { username?: string }): void;
  denyDevice(userCode: string): void;
} {
  const waiting = (userCode: string) => {
    const grant = typeof userCode === 'string' ? pendingDevice(state, userCode) : undefined;
    if (!grant) throw new TypeError(`userCode: no device sign-in waits for ${String(userCode)}`);
    return grant;
  };
  return {
    approveDevice(userCode, approval = {}) {
      const grant = waiting(userCode);
      const username = approval.username ?? state.users[0]?.username;
      if (!state.users.some((u) => u.username === username))
        throw new TypeError(`username: no sandbox user ${String(username)}`);
      grant.decision = 'approved';
    },
    denyDevice(userCode) {
      waiting(userCode).decision = 'denied';
    },
  };
}

/** The verification page: GET shows the form, POST signs the person in and records their decision. */
export function verificationPage(ex: Exchange, state: SandboxState, title: string): void {
  if (ex.req.method !== 'GET' && ex.req.method !== 'POST') return methodNotAllowed(ex, 'GET, POST');
  const params = ex.req.method === 'POST' ? formOf(ex) : ex.url.searchParams;
  const code = params.get('user_code') ?? '';
  if (ex.req.method === 'GET') return sendHtml(ex, 200, codeForm(title, code));
  const grant = pendingDevice(state, code);
  if (!grant)
    return sendHtml(ex, 400, codeForm(title, code, 'That code is unknown, expired or already used.'));
  const user = state.users.find(
    (u) => u.username === params.get('username') && u.password === params.get('password'),
  );
  if (!user) return sendHtml(ex, 401, codeForm(title, code, 'Wrong username or password.'));
  grant.decision = params.get('decision') === 'deny' ? 'denied' : 'approved';
  const done =
    grant.decision === 'approved'
      ? `<p role="status">Signed in: <strong>${escapeHtml(grant.clientId)}</strong> may now read data as ${escapeHtml(user.username)}. You can close this page and go back to your device.</p>`
      : `<p role="status">Denied: <strong>${escapeHtml(grant.clientId)}</strong> gets no access. You can close this page.</p>`;
  sendHtml(ex, 200, page(title, done));
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Device sign-in — ${escapeHtml(title)} sandbox</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#1d2939}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.4rem;font-size:1rem}
button{margin-top:1rem;margin-right:.5rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#b42318}</style></head>
<body><h1>${escapeHtml(title)} sandbox</h1>${body}</body></html>`;
}

function codeForm(title: string, code: string, error?: string): string {
  return page(
    title,
    `<p>Enter the code your device shows, and sign in to let it read data as you.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post">
<label for="user_code">Code</label><input id="user_code" name="user_code" value="${escapeHtml(normalUserCode(code))}" autocomplete="off" placeholder="XXXX-XXXX">
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
