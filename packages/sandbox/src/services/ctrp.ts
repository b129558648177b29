// NCI CTRP accrual: PUT an XML body for a trial site under an Okta token with scope ctrp.accrual.
import { send, type Exchange } from '../http.js';
import type { SandboxState } from '../state.js';
import { authenticate } from './common.js';

export const CTRP_PREFIX = '/ctrp';
const ACCRUAL = /^\/ctrp\/accrual-services\/trials\/([^/]+)\/([^/]+)\/sites\/po\/([^/]+)$/;

function xml(ex: Exchange, status: number, body: string): void {
  send(ex, status, `<?xml version="1.0" encoding="UTF-8"?>\n${body}`, { 'Content-Type': 'application/xml' });
}

/** Handles the accrual route; returns false when the path is not it. */
export function ctrpAccrual(ex: Exchange, state: SandboxState): boolean {
  const match = ACCRUAL.exec(ex.url.pathname);
  if (!match) return false;
  const [, idType, trialId, poId] = match as unknown as [string, string, string, string];
  const token = authenticate(ex, state, ['okta']);
  if (!token) return true;
  if (!token.scope.split(' ').includes('ctrp.accrual')) {
    xml(ex, 403, '<error><message>The token lacks scope ctrp.accrual</message></error>');
    return true;
  }
  if (ex.req.method === 'GET') {
    xml(
      ex,
      200,
      `<accrualSummary><idType>${idType}</idType><trialId>${trialId}</trialId><poId>${poId}</poId></accrualSummary>`,
    );
    return true;
  }
  if (ex.req.method !== 'PUT') {
    xml(ex, 405, '<error><message>PUT or GET only</message></error>');
    return true;
  }
  if (!/^(application|text)\/xml\b/.test(ex.req.headers['content-type'] ?? '')) {
    xml(ex, 415, '<error><message>Content-Type must be application/xml</message></error>');
    return true;
  }
  const text = ex.body.toString('utf8').trim();
  if (!text.startsWith('<') || !text.endsWith('>')) {
    xml(ex, 400, '<error><message>The body is not XML</message></error>');
    return true;
  }
  const subjects = (text.match(/<(?:patient|studySubject)\b/g) ?? []).length;
  xml(
    ex,
    200,
    `<accrualResult><trialId>${trialId}</trialId><poId>${poId}</poId><subjects>${subjects}</subjects></accrualResult>`,
  );
  return true;
}
