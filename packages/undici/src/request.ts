/**
 * undici's dispatch options as core's {@link AuthRequest}, and back, one hop at a time.
 *
 * @module
 */
import { isStreamBody, type AuthRequest } from '@authrail/core';

/** The fields of undici's `DispatchOptions` this package reads; the rest go along to every hop. */
export interface DispatchOptions {
  origin?: string | URL;
  path: string;
  method: string;
  headers?: unknown;
  body?: unknown;
  query?: Record<string, unknown> | null;
  upgrade?: unknown;
  maxRedirections?: number;
  [option: string]: unknown;
}

/** The origin a dispatch goes to (`opts.origin` is a string, maybe with a trailing `/`, or a `URL`). */
export function originOf(origin: string | URL | undefined): string | undefined {
  if (origin === undefined || origin === null) return undefined;
  try {
    return new URL(String(origin)).origin;
  } catch {
    return undefined;
  }
}

function appendAll(out: Headers, name: unknown, value: unknown): void {
  if (value === undefined) return;
  for (const item of Array.isArray(value) ? value : [value]) out.append(String(name), String(item));
}

/** `opts.headers`: an object (values strings or arrays), a flat `[name, value, …]` array, or pairs. */
function headersOf(headers: unknown): Headers {
  const out = new Headers();
  if (headers === null || typeof headers !== 'object') return out;
  if (Array.isArray(headers) && !Array.isArray(headers[0])) {
    for (let i = 0; i < headers.length; i += 2) appendAll(out, headers[i], headers[i + 1]);
  } else if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[unknown, unknown]>) appendAll(out, name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) appendAll(out, name, value);
  }
  return out;
}

/**
 * The caller's URL: `origin + path`, never `new URL(path, origin)` (a path `//evil.example/x`
 * would change the host), with `opts.query` folded in, as undici would append it.
 */
function urlOf(origin: string, path: string, query: DispatchOptions['query']): URL {
  const url = new URL(origin + path);
  if (!query) return url;
  if (path.includes('?') || path.includes('#'))
    throw new TypeError('Query params cannot be passed when url already contains "?" or "#".');
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

async function readAll(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * The body as core can send it again where it can: a `FormData` serialised once (its
 * multipart boundary is random per serialisation); a one-shot stream with a declared
 * length within `bufferUpTo` read into memory (global fetch hands every body over as an
 * async generator, even a string); any other stream left as it is, sent once.
 */
async function bodyOf(
  body: unknown,
  headers: Headers,
  bufferUpTo: number,
): Promise<{ body: unknown; bodyIsStream: boolean }> {
  if (body === undefined || body === null) return { body: null, bodyIsStream: false };
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    const serialised = new Response(body);
    if (!headers.has('content-type')) headers.set('content-type', serialised.headers.get('content-type')!);
    return { body: Buffer.from(await serialised.arrayBuffer()), bodyIsStream: false };
  }
  if (!isStreamBody(body)) return { body, bodyIsStream: false };
  const declared = headers.get('content-length'); // Number(null) is 0: ask first
  const length = declared === null ? NaN : Number(declared);
  if (!(length <= bufferUpTo) || !(Symbol.asyncIterator in (body as object)))
    return { body, bodyIsStream: true };
  return { body: await readAll(body as AsyncIterable<unknown>), bodyIsStream: false };
}

/**
 * The caller's dispatch as core's request. A caller's `maxRedirections` (undici 6's
 * per-request option) is followed by core, hop by hop, so every hop's origin is checked;
 * otherwise core returns a 3xx as it is, for a redirect interceptor or fetch to follow.
 */
export async function requestOf(
  origin: string,
  opts: DispatchOptions,
  bufferUpTo: number,
): Promise<AuthRequest> {
  const headers = headersOf(opts.headers);
  const url = urlOf(origin, opts.path, opts.query);
  const { body, bodyIsStream } = await bodyOf(opts.body, headers, bufferUpTo);
  const follows = (opts.maxRedirections ?? 0) > 0;
  return { method: opts.method, url, headers, body, bodyIsStream, redirect: follows ? 'follow' : 'manual' };
}

/**
 * One hop's dispatch options: the caller's (timeouts, `idempotent`, `reset`, …) with the
 * hop's origin, path, method, headers and body. `query` is in the path already.
 * `maxRedirections: 0`: nothing below may follow a redirect out of sight with the hop's
 * credential (undici 6's Agent option, a redirect interceptor composed inside).
 */
export function hopOptions(caller: DispatchOptions, callerOrigin: string, hop: AuthRequest): DispatchOptions {
  // An object, not a flat array: undici 6's dns interceptor spreads it into one.
  const headers: Record<string, string> = {};
  const elsewhere = hop.url.origin !== callerOrigin;
  hop.headers.forEach((value, name) => {
    if (!(elsewhere && name === 'host')) headers[name] = value; // the caller's Host is for the caller's origin
  });
  return {
    ...caller,
    origin: hop.url.origin,
    path: hop.url.pathname + hop.url.search,
    method: hop.method,
    headers,
    query: null,
    body: hop.body ?? null,
    maxRedirections: 0,
  };
}
