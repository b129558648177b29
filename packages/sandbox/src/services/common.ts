// Shared by the resource APIs: RFC 6750 bearer checks, FHIR errors and fake patients.
import {
  accessTokenOf,
  basicCredentials,
  formOf,
  mediaType,
  methodNotAllowed,
  sendJson,
  type Exchange,
} from '../http.js';
import type { IssuedToken, SandboxState } from '../state.js';
import type { SandboxService } from '../types.js';
import { checkProof, nonceHeader } from './dpop.js';
import { peerCertificate, schemeOf } from './mtls.js';

/**
 * The RFC 6750 §3 401: with no usable credentials the challenge is a bare `Bearer` (no
 * error code); with a bad token it is `Bearer error="invalid_token"` and a description.
 * A request that came with a DPoP token is answered in the DPoP scheme (RFC 9449 §7.1),
 * with the server's nonce when nonces are required.
 */
function challenge(
  ex: Exchange,
  description?: string,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
  error = 'invalid_token',
  headers: Record<string, string> = {},
): void {
  if (!description) {
    sendJson(
      ex,
      401,
      { error: 'unauthorized', error_description: 'A bearer access token is required' },
      { 'WWW-Authenticate': 'Bearer', ...headers },
    );
    return;
  }
  sendJson(
    ex,
    401,
    { error, error_description: description },
    { 'WWW-Authenticate': `${scheme} error="${error}", error_description="${description}"`, ...headers },
  );
}

/** The RFC 6750 §3.1 403 for a valid token that lacks a scope, with a body of the caller's choosing. */
export function insufficientScopeHeader(scope: string): Record<string, string> {
  return {
    'WWW-Authenticate': `Bearer error="insufficient_scope", error_description="The access token lacks scope ${scope}", scope="${scope}"`,
  };
}

/**
 * Checks the bearer token of a resource request: present, issued by one of `services`,
 * not revoked, not expired. Sends the RFC 6750 401 and returns undefined otherwise.
 */
export function authenticate(
  ex: Exchange,
  state: SandboxState,
  services: readonly SandboxService[],
): IssuedToken | undefined {
  const presented = accessTokenOf(ex);
  const nonce = nonceHeader(state.dpop);
  if (!presented) {
    challenge(ex, undefined, 'Bearer', 'invalid_token', nonce);
    return undefined;
  }
  const { scheme } = presented;
  const token = state.tokens.get(presented.token);
  if (!token) {
    challenge(ex, 'The access token is not valid', scheme);
    return undefined;
  }
  if (token.jkt && scheme !== 'DPoP') {
    challenge(ex, 'The access token is DPoP-bound: send it as DPoP with a proof', 'Bearer');
    return undefined;
  }
  if (scheme === 'DPoP') {
    if (!token.jkt) {
      challenge(ex, 'The access token is not DPoP-bound: send it as Bearer', 'DPoP');
      return undefined;
    }
    const htu = `${schemeOf(ex.req)}://${ex.req.headers.host ?? '127.0.0.1'}${ex.url.pathname}`;
    const proof = checkProof(ex, state.dpop, htu, presented.token);
    if ('error' in proof) {
      challenge(ex, proof.description, 'DPoP', proof.error, nonce);
      return undefined;
    }
    if (proof.jkt !== token.jkt) {
      challenge(
        ex,
        'The DPoP proof is signed by another key than the token is bound to',
        'DPoP',
        'invalid_dpop_proof',
        nonce,
      );
      return undefined;
    }
    // RFC 9449 §8.2: the current nonce on every response, so clients stay in step.
    for (const [name, value] of Object.entries(nonce)) ex.res.setHeader(name, value);
  }
  // RFC 8705 §3: a certificate-bound token works only over the certificate it was issued to.
  if (token.x5t !== undefined && peerCertificate(ex.req)?.thumbprint !== token.x5t) {
    challenge(ex, 'The access token is bound to another client certificate', scheme);
    return undefined;
  }
  if (!services.includes(token.service)) {
    challenge(ex, 'The access token was issued for another service');
    return undefined;
  }
  ex.record.clientId = token.clientId;
  if (token.subject !== undefined) ex.record.subject = token.subject;
  if (token.revoked) {
    challenge(ex, 'The access token was revoked');
    return undefined;
  }
  if (Date.now() >= token.expiresAt) {
    challenge(ex, 'The access token expired');
    return undefined;
  }
  return token;
}

/** A FHIR OperationOutcome error. */
export function outcome(ex: Exchange, status: number, code: string, diagnostics: string): void {
  sendJson(
    ex,
    status,
    { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] },
    { 'Content-Type': 'application/fhir+json' },
  );
}

const NAMES = [
  ['Ada', 'Lovelace'],
  ['Grace', 'Hopper'],
  ['Rosalind', 'Franklin'],
  ['Marie', 'Curie'],
] as const;

/** A small FHIR searchset Bundle of fake patients. */
export function patientBundle(base: string, tag?: string): unknown {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: NAMES.length,
    entry: NAMES.map(([given, family], i) => ({
      fullUrl: `${base}/Patient/p${i + 1}`,
      resource: {
        resourceType: 'Patient',
        id: `p${i + 1}`,
        ...(tag ? { meta: { tag: [{ system: 'researchstudy', code: tag }] } } : {}),
        name: [{ given: [given], family }],
      },
    })),
  };
}

/** Client authentication a token request used, by inspection of the request itself. */
function clientAuthOf(
  ex: Exchange,
  form: URLSearchParams,
): 'client_secret_basic' | 'client_secret_post' | 'none' {
  if (/^Basic\s/i.test(ex.req.headers.authorization ?? '')) return 'client_secret_basic';
  if (form.has('client_secret')) return 'client_secret_post';
  return 'none';
}

/** A token request, read and recorded. */
export interface TokenRequest {
  /** The form fields. */
  form: URLSearchParams;
  /** `grant_type`, `''` when absent. */
  grantType: string;
  /** The client id, from the Basic header or the form. */
  clientId: string | undefined;
  /** The secret, from the Basic header or the form. */
  clientSecret: string | undefined;
}

/**
 * Starts handling a token request (RFC 6749 §3.2): POST only, a form body. Records the
 * client authentication really used, the client id and `grant_type`. Returns undefined
 * when it has already answered (405, or 400 `invalid_request` for another body type).
 */
export function readTokenRequest(ex: Exchange): TokenRequest | undefined {
  const form = formOf(ex);
  const basic = basicCredentials(ex);
  const request: TokenRequest = {
    form,
    grantType: form.get('grant_type') ?? '',
    clientId: basic?.clientId ?? form.get('client_id') ?? undefined,
    clientSecret: basic?.clientSecret ?? form.get('client_secret') ?? undefined,
  };
  ex.record.clientAuth = clientAuthOf(ex, form);
  ex.record.grantType = request.grantType || undefined;
  ex.record.clientId = request.clientId;
  if (ex.req.method !== 'POST') {
    methodNotAllowed(ex, 'POST');
    return undefined;
  }
  if (mediaType(ex) !== 'application/x-www-form-urlencoded') {
    sendJson(ex, 400, {
      error: 'invalid_request',
      error_description: 'The token request must be application/x-www-form-urlencoded',
    });
    return undefined;
  }
  return request;
}

/** 400 for a missing (`invalid_request`) or unsupported (`unsupported_grant_type`) grant. */
export function badGrant(ex: Exchange, grantType: string, supported: readonly string[]): void {
  if (!grantType) {
    sendJson(ex, 400, {
      error: 'invalid_request',
      error_description: 'The request is missing a required parameter: grant_type',
    });
    return;
  }
  sendJson(ex, 400, {
    error: 'unsupported_grant_type',
    error_description: `The authorization grant type ${grantType} is not supported; use ${supported.join(' or ')}`,
  });
}

/** A successful token response, never cached (RFC 6749 §5.1). */
export function tokenResponse(
  ex: Exchange,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  const sent = { ...body };
  for (const [key, value] of Object.entries(ex.tokenFields ?? {})) {
    if (value === null) delete sent[key];
    else sent[key] = value;
  }
  sendJson(ex, 200, sent, { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
}
