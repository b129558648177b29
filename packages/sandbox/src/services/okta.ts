// Okta custom authorization server: /oauth2/{authServerId}/v1/token with Basic or post
// client auth, token exchange (RFC 8693) and the JWT bearer grant (RFC 7523 §2.1) for
// workloads federated from a trusted issuer; errors in the OAuth shape, and Okta's own
// errorCode shape for resources that do not exist.
import type { JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { methodNotAllowed, sendJson, type Exchange } from '../http.js';
import { randomToken, type SandboxState } from '../state.js';
import type { SandboxClient } from '../types.js';
import { badGrant, readTokenRequest, tokenResponse, type TokenRequest } from './common.js';
import { nonceHeader, tokenRequestBinding } from './dpop.js';
import { tlsClientAuthOf } from './mtls.js';
import { parseJws, signatureRefusal } from './jwt.js';

/** RFC 8693 token exchange: Okta's On-Behalf-Of flow for a service calling an API as its caller. */
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** RFC 7523 §2.1: a JWT a trusted issuer signed, traded for a token (workload identity federation). */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GRANTS = ['client_credentials', TOKEN_EXCHANGE, JWT_BEARER];
/** What the JWT bearer grant verifies signatures with (Kubernetes signs RS256; CI providers RS256 or ES256). */
const ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'ES256', 'ES384'];
/** Clock skew forgiven on exp, nbf and iat, seconds. */
const SKEW_SECONDS = 5;

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
      // none: a workload with no secret, whose credential is its JWT bearer assertion.
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_post',
        'none',
        ...(state.mtls ? ['tls_client_auth'] : []),
      ],
      ...(state.mtls ? { tls_client_certificate_bound_access_tokens: true } : {}),
      grant_types_supported: GRANTS,
      response_types_supported: ['code', 'token'],
      scopes_supported: [
        ...new Set(
          [...state.clients.values()].filter((c) => c.service === 'okta').flatMap((c) => c.scopes ?? []),
        ),
      ],
    });
    return true;
  }
  oktaToken(ex, state, issuer);
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
  // A client with no secret is a workload whose credential is the JWT bearer assertion.
  const authenticated =
    client?.clientSecret === undefined
      ? request.grantType === JWT_BEARER && !request.clientSecret
      : request.clientSecret === client.clientSecret;
  if (!client || !authenticated) return refuse(generic);
  return { client };
}

function oktaToken(ex: Exchange, state: SandboxState, issuer: string): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  const authenticated = oktaClient(ex, state, request);
  if (!authenticated) return;
  const { client, x5t } = authenticated;
  if (!GRANTS.includes(request.grantType)) return badGrant(ex, request.grantType, GRANTS);
  const scope = checkedScope(ex, request.form.get('scope'), client.scopes ?? []);
  if (scope === undefined) return;
  let subject: string | undefined;
  if (request.grantType === TOKEN_EXCHANGE) {
    subject = exchangedSubject(ex, state, request.form);
    if (subject === undefined) return;
  }
  if (request.grantType === JWT_BEARER) {
    const checked = bearerSubject(state, request.form.get('assertion'), [`${issuer}/v1/token`, issuer]);
    if ('refused' in checked) return sendJson(ex, 400, checked.refused);
    subject = ex.record.subject = checked.subject;
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
      ...(request.grantType === TOKEN_EXCHANGE ? { issued_token_type: ACCESS_TOKEN_TYPE } : {}),
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

type OAuthError = { error: string; error_description: string };

/**
 * RFC 7523 §3 as a federating server checks a JWT bearer assertion: a trusted `iss`, a
 * signature by one of its keys, a `sub` it is trusted for, `aud` this server (its token
 * endpoint or issuer), `exp` ahead, `nbf` and `iat` not ahead. Returns the subject, or the
 * 400 to answer. A `jti` is not single use: a projected service-account token is sent
 * again until kubelet rotates it, and federating servers (Entra ID, Google STS) take it again.
 */
function bearerSubject(
  state: SandboxState,
  assertion: string | null,
  audiences: readonly string[],
): { subject: string } | { refused: OAuthError } {
  const refuse = (description: string, error = 'invalid_grant') => ({
    refused: { error, error_description: description },
  });
  if (!assertion)
    return refuse("The request is missing a required parameter: 'assertion'.", 'invalid_request');
  const jws = parseJws(assertion);
  if (!jws) return refuse("The 'assertion' is not a JWT.");
  const { claims } = jws;
  const trusted = typeof claims.iss === 'string' ? state.trustedIssuers.get(claims.iss) : undefined;
  if (!trusted) return refuse(`The assertion's issuer is not trusted: ${String(claims.iss)}`);
  const refusal = signatureRefusal(
    jws,
    trusted.jwks.keys as NodeJsonWebKey[],
    ASSERTION_ALGORITHMS,
    'The assertion',
  );
  if (refusal) return refuse(refusal);
  const subject = claims.sub;
  if (typeof subject !== 'string' || !subject) return refuse("The assertion has no 'sub'.");
  if (trusted.subjects && !trusted.subjects.includes(subject))
    return refuse(`The issuer is not trusted for the subject ${subject}`);
  const aud: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && audiences.includes(a)))
    return refuse(`The assertion's 'aud' must be ${audiences.join(' or ')}`);
  const now = Math.floor(Date.now() / 1000);
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number') return refuse("The assertion has no 'exp'.");
  if (exp <= now - SKEW_SECONDS) return refuse('The assertion has expired.');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + SKEW_SECONDS))
    return refuse('The assertion is not valid yet (nbf).');
  if (iat !== undefined && (typeof iat !== 'number' || iat > now + SKEW_SECONDS))
    return refuse('The assertion was issued in the future (iat).');
  return { subject };
}
