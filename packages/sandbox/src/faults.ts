// Fault injection: what each injected fault does to a request before normal handling.
import { STATUS_CODES } from 'node:http';
import { gzipSync } from 'node:zlib';
import { randomToken } from './state.js';
import { send, sendHead, sendHtml, sendJson, type Exchange } from './http.js';
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
  'token-response',
  'huge-body',
  'gzip-bomb',
  'endless-body',
  'stalled-gzip',
  'echo-credentials',
]);

/** 64 KiB of JSON-string filler, the unit huge and endless bodies are written in. */
const FILLER = Buffer.alloc(64 * 1024, 'a');

/**
 * A gzip body that expands to `bytes` bytes of a JSON-looking token response: gzip
 * members concatenated (RFC 1952 §2.2), one per MiB of filler, so it is built in
 * milliseconds; 100 MB compresses to about 100 KB.
 */
function gzipBomb(bytes: number): Buffer {
  const mib = 1024 * 1024;
  const members = [gzipSync('{"access_token":"')];
  const whole = gzipSync(Buffer.alloc(mib, 'a'));
  for (let left = bytes; left > 0; left -= mib) {
    members.push(left >= mib ? whole : gzipSync(Buffer.alloc(left, 'a')));
  }
  members.push(gzipSync('","token_type":"Bearer"}'));
  return Buffer.concat(members);
}

/** Streams `bytes` bytes of a JSON-looking body, honouring back-pressure; stops when the client leaves. */
function streamBody(ex: Exchange, bytes: number | undefined): void {
  const { res } = ex;
  let left = bytes ?? Infinity;
  res.write('{"access_token":"');
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, FILLER.length);
      left -= n;
      if (!res.write(n === FILLER.length ? FILLER : FILLER.subarray(0, n)))
        return void res.once('drain', pump);
      if (bytes === undefined) return void setTimeout(pump, 5).unref(); // endless: a chunk every few ms
    }
    if (!res.destroyed) res.end('"}');
  };
  pump();
}

/** Faults answered as a server or gateway in trouble would answer: an error status and its body. */
type ErrorAnswerFault = Extract<
  Fault,
  { type: 'status' | 'rate-limit' | 'echo-credentials' | 'html' | 'unauthorized' | 'okta-error' }
>;

/** Faults answered with a token response that is broken: too big, never ending, malformed or incomplete. */
type BrokenBodyFault = Extract<
  Fault,
  { type: 'huge-body' | 'endless-body' | 'gzip-bomb' | 'malformed-json' | 'missing-access-token' }
>;

/** Applies one fault to a request; `continue` means the request is then handled normally. */
export async function applyFault(ex: Exchange, fault: Fault, hung: HangRegistry): Promise<FaultOutcome> {
  switch (fault.type) {
    case 'status':
    case 'rate-limit':
    case 'echo-credentials':
    case 'html':
    case 'unauthorized':
    case 'okta-error':
      sendErrorAnswer(ex, fault);
      return 'handled';
    case 'huge-body':
    case 'endless-body':
    case 'gzip-bomb':
    case 'malformed-json':
    case 'missing-access-token':
      sendBrokenBody(ex, fault);
      return 'handled';
    case 'token-response':
      ex.tokenFields = fault.fields; // applied by the route's own (valid) token response
      return 'continue';
    case 'stalled-gzip': {
      // A valid gzip start (header and a first block), flushed so the client begins decoding.
      const whole = gzipSync('{"access_token":"' + 'a'.repeat(4096));
      sendHead(ex, 200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      ex.res.write(whole.subarray(0, Math.floor(whole.length / 2)));
      hung.add(ex);
      ex.res.on('close', () => hung.delete(ex));
      return 'handled';
    }
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
  }
}

/** Answers an {@link ErrorAnswerFault}. */
function sendErrorAnswer(ex: Exchange, fault: ErrorAnswerFault): void {
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
      return;
    case 'rate-limit': {
      const at = Date.now() + fault.retryAfterSeconds * 1000;
      const wait: Record<string, string> =
        fault.form === 'okta-reset'
          ? { 'X-Rate-Limit-Reset': String(Math.ceil(at / 1000)) }
          : {
              'Retry-After':
                fault.form === 'date' ? new Date(at).toUTCString() : String(fault.retryAfterSeconds),
            };
      sendJson(ex, 429, { error: 'rate_limited', error_description: 'Too many requests' }, wait);
      return;
    }
    case 'echo-credentials':
      sendJson(ex, 401, {
        error: 'invalid_client',
        error_description: `Client authentication failed. Authorization: ${ex.req.headers.authorization ?? '(none)'}; body: ${ex.body.toString('utf8')}`,
      });
      return;
    case 'html': {
      const status = fault.status ?? 502;
      const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
      sendHtml(
        ex,
        status,
        `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`,
      );
      return;
    }
    case 'unauthorized': {
      const challenge =
        fault.challenge ?? 'Bearer error="invalid_token", error_description="The access token is invalid"';
      sendJson(
        ex,
        fault.status ?? 401,
        { error: fault.status === 403 ? 'insufficient_scope' : 'invalid_token' },
        challenge ? { 'WWW-Authenticate': challenge } : {},
      );
      return;
    }
    case 'okta-error':
      sendJson(ex, fault.status, {
        errorCode: fault.errorCode,
        errorSummary: fault.errorSummary,
        errorLink: fault.errorCode,
        errorId: `oae${randomToken(8)}`,
        errorCauses: [],
      });
      return;
  }
}

/** Answers a {@link BrokenBodyFault}. */
function sendBrokenBody(ex: Exchange, fault: BrokenBodyFault): void {
  switch (fault.type) {
    case 'huge-body':
      sendHead(ex, fault.status ?? 200, { 'Content-Type': 'application/json' });
      streamBody(ex, fault.bytes);
      return;
    case 'endless-body':
      sendHead(ex, 200, { 'Content-Type': 'application/json' });
      streamBody(ex, undefined);
      return;
    case 'gzip-bomb':
      send(ex, 200, gzipBomb(fault.bytes), {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
      });
      return;
    case 'malformed-json':
      send(ex, 200, '{"access_token": "abc", "token_type": ', { 'Content-Type': 'application/json' });
      return;
    case 'missing-access-token':
      sendJson(ex, 200, { token_type: 'Bearer', expires_in: 3600 });
      return;
  }
}
