// Fault injection: what each injected fault does to a request before normal handling.
import { STATUS_CODES } from 'node:http';
import { randomToken } from './state.js';
import { send, sendHtml, sendJson, type Exchange } from './http.js';
import type { Fault } from './types.js';

/** What to do after a fault: `handled` (answered, or deliberately not answered) or `continue`. */
export type FaultOutcome = 'handled' | 'continue';

/** Hung requests, so `close()` can end them. */
export type HangRegistry = Set<Exchange>;

/** Every fault type, to refuse unknown ones at `inject` time. */
export const FAULT_TYPES: ReadonlySet<Fault['type']> = new Set<Fault['type']>([
  'status',
  'rate-limit',
  'delay',
  'hang',
  'reset',
  'html',
  'malformed-json',
  'missing-access-token',
  'unauthorized',
  'okta-error',
]);

/** Applies one fault to a request; `continue` means the request is then handled normally. */
export async function applyFault(ex: Exchange, fault: Fault, hung: HangRegistry): Promise<FaultOutcome> {
  switch (fault.type) {
    case 'status':
      send(
        ex,
        fault.status,
        fault.body ??
          JSON.stringify({ error: 'server_error', error_description: `injected ${fault.status}` }),
        {
          'Content-Type': fault.contentType ?? 'application/json',
        },
      );
      return 'handled';
    case 'rate-limit':
      sendJson(
        ex,
        429,
        { error: 'rate_limited', error_description: 'Too many requests' },
        { 'Retry-After': String(fault.retryAfterSeconds) },
      );
      return 'handled';
    case 'delay':
      await new Promise((resolve) => setTimeout(resolve, fault.ms).unref());
      return 'continue';
    case 'hang':
      ex.record.status = 0;
      hung.add(ex);
      ex.res.on('close', () => hung.delete(ex));
      return 'handled';
    case 'reset':
      ex.record.status = 0;
      ex.req.socket.destroy();
      return 'handled';
    case 'html': {
      const status = fault.status ?? 502;
      const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
      sendHtml(
        ex,
        status,
        `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`,
      );
      return 'handled';
    }
    case 'malformed-json':
      send(ex, 200, '{"access_token": "abc", "token_type": ', { 'Content-Type': 'application/json' });
      return 'handled';
    case 'missing-access-token':
      sendJson(ex, 200, { token_type: 'Bearer', expires_in: 3600 });
      return 'handled';
    case 'unauthorized': {
      const challenge =
        fault.challenge ?? 'Bearer error="invalid_token", error_description="The access token is invalid"';
      sendJson(
        ex,
        fault.status ?? 401,
        { error: fault.status === 403 ? 'insufficient_scope' : 'invalid_token' },
        challenge ? { 'WWW-Authenticate': challenge } : {},
      );
      return 'handled';
    }
    case 'okta-error':
      sendJson(ex, fault.status, {
        errorCode: fault.errorCode,
        errorSummary: fault.errorSummary,
        errorLink: fault.errorCode,
        errorId: `oae${randomToken(8)}`,
        errorCauses: [],
      });
      return 'handled';
  }
}
