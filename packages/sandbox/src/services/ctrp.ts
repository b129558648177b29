// NCI CTRP accrual: PUT an XML body for a trial site under an Okta token with scope
// ctrp.accrual; GET the same path for a summary (ctrp.read or ctrp.accrual).
import { escapeXml, mediaType, send, type Exchange } from '../http.js';
import type { SandboxState } from '../state.js';
import { authenticate, insufficientScopeHeader } from './common.js';

/** Path prefix of the CTRP API. */
export const CTRP_PREFIX = '/ctrp';
const ACCRUAL = /^\/ctrp\/accrual-services\/trials\/([^/]+)\/([^/]+)\/sites\/po\/([^/]+)\/?$/;
const XML_TYPES = new Set(['application/xml', 'text/xml']);

function xml(ex: Exchange, status: number, body: string, headers: Record<string, string> = {}): void {
  send(ex, status, `<?xml version="1.0" encoding="UTF-8"?>\n${body}`, {
    'Content-Type': 'application/xml',
    ...headers,
  });
}

function xmlError(ex: Exchange, status: number, message: string, headers?: Record<string, string>): void {
  xml(ex, status, `<error><code>${status}</code><message>${escapeXml(message)}</message></error>`, headers);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Handles `/ctrp/accrual-services/trials/{idType}/{trialId}/sites/po/{poId}`; returns
 * false when the path is not it.
 */
export function ctrpAccrual(ex: Exchange, state: SandboxState): boolean {
  const match = ACCRUAL.exec(ex.url.pathname);
  if (!match) {
    if (!ex.url.pathname.startsWith(`${CTRP_PREFIX}/`)) return false;
    xmlError(ex, 404, `No CTRP resource at ${ex.url.pathname}`);
    return true;
  }
  const [idType, trialId, poId] = match.slice(1).map((s) => escapeXml(decode(s ?? ''))) as [
    string,
    string,
    string,
  ];
  const token = authenticate(ex, state, ['okta']);
  if (!token) return true;
  const scopes = token.scope.split(' ');
  if (ex.req.method === 'GET') {
    if (!scopes.includes('ctrp.read') && !scopes.includes('ctrp.accrual')) {
      xmlError(ex, 403, 'The access token lacks scope ctrp.read', insufficientScopeHeader('ctrp.read'));
      return true;
    }
    xml(
      ex,
      200,
      `<accrualSummary><idType>${idType}</idType><trialId>${trialId}</trialId><poId>${poId}</poId><subjects>0</subjects></accrualSummary>`,
    );
    return true;
  }
  if (ex.req.method !== 'PUT') {
    xmlError(ex, 405, 'Use PUT to submit accrual, GET to read a summary', { Allow: 'GET, PUT' });
    return true;
  }
  if (!scopes.includes('ctrp.accrual')) {
    xmlError(ex, 403, 'The access token lacks scope ctrp.accrual', insufficientScopeHeader('ctrp.accrual'));
    return true;
  }
  if (!XML_TYPES.has(mediaType(ex))) {
    xmlError(ex, 415, 'Content-Type must be application/xml');
    return true;
  }
  const text = ex.body
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
  if (!text.startsWith('<') || !text.endsWith('>')) {
    xmlError(ex, 400, 'The body is not an XML document');
    return true;
  }
  const subjects = (text.match(/<(?:[\w-]+:)?(?:patient|studySubject)[\s/>]/g) ?? []).length;
  xml(
    ex,
    200,
    `<accrualResult><idType>${idType}</idType><trialId>${trialId}</trialId><poId>${poId}</poId><subjects>${subjects}</subjects><status>ACCEPTED</status></accrualResult>`,
  );
  return true;
}
