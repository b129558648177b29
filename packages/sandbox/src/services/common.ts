import { bearerToken, sendJson, type Exchange } from '../http.js';
import type { IssuedToken, SandboxState } from '../state.js';
import type { SandboxService } from '../types.js';

function challenge(ex: Exchange, description?: string): void {
  const header = description
    ? `Bearer error="invalid_token", error_description="${description}"`
    : 'Bearer realm="sandbox"';
  sendJson(
    ex,
    401,
    { error: description ? 'invalid_token' : 'unauthorized' },
    { 'WWW-Authenticate': header },
  );
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
  const presented = bearerToken(ex);
  if (!presented) {
    challenge(ex);
    return undefined;
  }
  const token = state.tokens.get(presented);
  if (!token || !services.includes(token.service)) {
    challenge(ex, 'The access token is not valid for this API');
    return undefined;
  }
  ex.record.clientId = token.clientId;
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
export function clientAuthOf(
  ex: Exchange,
  form: URLSearchParams,
): 'client_secret_basic' | 'client_secret_post' | 'none' {
  if (/^Basic\s/i.test(ex.req.headers.authorization ?? '')) return 'client_secret_basic';
  if (form.has('client_secret')) return 'client_secret_post';
  return 'none';
}
