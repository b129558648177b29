// Small HTTP helpers shared by every emulated service: body reading, responses,
// CORS, client credentials and bearer tokens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecordedRequest } from './types.js';

/** The largest request body the sandbox accepts (8 MiB); larger ones get 413. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** A read request body; `tooLarge` when it went over {@link MAX_BODY_BYTES} (the rest was drained). */
export interface ReadBody {
  /** The bytes kept (empty when too large). */
  body: Buffer;
  /** The body was larger than {@link MAX_BODY_BYTES}. */
  tooLarge: boolean;
}

/**
 * Reads a request body, keeping at most {@link MAX_BODY_BYTES}. A larger body is drained
 * and reported as `tooLarge`, so the caller can answer 413 instead of dropping the socket.
 * Rejects when the client goes away before the end.
 */
export function readBody(req: IncomingMessage): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(
        size > MAX_BODY_BYTES
          ? { body: Buffer.alloc(0), tooLarge: true }
          : { body: Buffer.concat(chunks), tooLarge: false },
      ),
    );
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client went away before the end of the body'));
    });
  });
}

/**
 * Parses a request target. Origin-form (`/path?x`) is resolved against the sandbox
 * origin — `//x` stays a path, never a host; absolute-form is accepted too. Returns
 * `undefined` for anything unparsable (answered with 400).
 */
export function parseTarget(target: string): URL | undefined {
  try {
    return target.startsWith('/') ? new URL(`http://127.0.0.1${target}`) : new URL(target);
  } catch {
    return undefined;
  }
}

/** The request being handled, with its record. */
export interface Exchange {
  /** The Node request. */
  req: IncomingMessage;
  /** The Node response. */
  res: ServerResponse;
  /** The parsed request target. */
  url: URL;
  /** The whole request body. */
  body: Buffer;
  /** The record in `sandbox.requests`; its `status` is set when the response is sent. */
  record: RecordedRequest;
  /** Fields a `token-response` fault sets (or, as null, removes) in this request's token response. */
  tokenFields?: Record<string, unknown>;
}

/** Sends a response (with the CORS headers of {@link corsHeaders}) and records its status. */
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

/** Writes the status line and headers (with CORS) of a response whose body the caller streams. */
export function sendHead(ex: Exchange, status: number, headers: Record<string, string>): void {
  ex.record.status = status;
  ex.res.writeHead(status, { ...corsHeaders(ex), ...headers });
}

/** Sends a JSON response (`application/json` unless `headers` say otherwise). */
export function sendJson(
  ex: Exchange,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(ex, status, JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });
}

/** Sends an HTML page. */
export function sendHtml(ex: Exchange, status: number, html: string): void {
  send(ex, status, html, { 'Content-Type': 'text/html; charset=utf-8' });
}

/** Redirects to `location` (302 unless told otherwise). */
export function redirect(ex: Exchange, location: string, status = 302): void {
  send(ex, status, '', { Location: location });
}

/** 405 with `Allow`, in the OAuth error shape. */
export function methodNotAllowed(ex: Exchange, allow: string): void {
  sendJson(
    ex,
    405,
    {
      error: 'invalid_request',
      error_description: `Method ${ex.record.method} is not allowed; use ${allow}`,
    },
    { Allow: allow },
  );
}

/**
 * CORS headers for a request that has an `Origin`: the origin is echoed back (any origin
 * may call the sandbox — the SPA example runs on another port), and `WWW-Authenticate`
 * and `Retry-After` are readable by scripts.
 */
function corsHeaders(ex: Exchange): Record<string, string> {
  const origin = ex.req.headers.origin;
  if (!origin) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    Vary: 'Origin',
    'Access-Control-Expose-Headers': 'WWW-Authenticate, Retry-After, X-Rate-Limit-Reset, Location',
  };
}

/** The headers that answer a CORS preflight. */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, PATCH, OPTIONS',
  'Access-Control-Allow-Headers': 'authorization, content-type, accept',
  'Access-Control-Max-Age': '600',
};

/** Answers a CORS preflight (`OPTIONS`) with 204. */
export function preflight(ex: Exchange): void {
  send(ex, 204, '', { ...PREFLIGHT_HEADERS });
}

/** The media type of the request, lower case, without parameters (`''` when absent). */
export function mediaType(ex: Exchange): string {
  return (ex.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Parses an `application/x-www-form-urlencoded` body; any other body gives no fields. */
export function formOf(ex: Exchange): URLSearchParams {
  return mediaType(ex) === 'application/x-www-form-urlencoded'
    ? new URLSearchParams(ex.body.toString('utf8'))
    : new URLSearchParams();
}

function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * Client credentials from an HTTP Basic header. Per RFC 6749 §2.3.1 the id and secret
 * are form-urlencoded before Base64, so they are decoded here.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function basicCredentials(ex: Exchange): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(ex.req.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: formDecode(decoded.slice(0, colon)),
    clientSecret: formDecode(decoded.slice(colon + 1)),
  };
}

/**
 * The access token of a request and its scheme, `Bearer` or `DPoP` (RFC 9449 §7.1), if
 * it has one (schemes are case-insensitive, RFC 7235).
 */
export function accessTokenOf(ex: Exchange): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  const match = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(ex.req.headers.authorization ?? '');
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Escapes text for XML content. */
export function escapeXml(text: string): string {
  return escapeHtml(text);
}
