import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecordedRequest } from './types.js';

const MAX_BODY = 8 * 1024 * 1024;

/** Reads a request body (at most 8 MiB). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request being handled, with its record. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: Buffer;
  record: RecordedRequest;
}

export function send(
  ex: Exchange,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  ex.record.status = status;
  if (ex.res.headersSent || ex.res.destroyed) return;
  ex.res.writeHead(status, {
    'Content-Length': String(Buffer.byteLength(body)),
    ...corsHeaders(ex),
    ...headers,
  });
  ex.res.end(body);
}

export function sendJson(
  ex: Exchange,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(ex, status, JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });
}

export function sendHtml(ex: Exchange, status: number, html: string): void {
  send(ex, status, html, { 'Content-Type': 'text/html; charset=utf-8' });
}

export function redirect(ex: Exchange, location: string, status = 302): void {
  send(ex, status, '', { Location: location });
}

/** Browsers call the token, revocation and FHIR endpoints from the SPA's origin. */
function corsHeaders(ex: Exchange): Record<string, string> {
  const origin = ex.req.headers.origin;
  if (!origin) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    Vary: 'Origin',
    'Access-Control-Expose-Headers': 'WWW-Authenticate',
  };
}

export function preflight(ex: Exchange): void {
  send(ex, 204, '', {
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'authorization, content-type, accept',
    'Access-Control-Max-Age': '600',
  });
}

/** Parses an `application/x-www-form-urlencoded` body. */
export function formOf(ex: Exchange): URLSearchParams {
  const type = ex.req.headers['content-type'] ?? '';
  return type.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(ex.body.toString('utf8'))
    : new URLSearchParams();
}

/** Client credentials from a Basic header (RFC 6749 §2.3.1: form-urlencoded, then Base64). */
export function basicCredentials(ex: Exchange): { clientId: string; clientSecret: string } | undefined {
  const header = ex.req.headers.authorization ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) };
}

/** The bearer token of a request, if it has one (scheme case-insensitive). */
export function bearerToken(ex: Exchange): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ex.req.headers.authorization ?? '');
  return match?.[1];
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
