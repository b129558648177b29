// How every request to the authorization server is made (token, revocation, discovery):
// under the caller's signal, observed for error mapping, and read with a size cap.
import type * as client from 'openid-client';
import { ConfigError } from '@authrail/core';
import { tooLarge, type Observed } from './errors.js';

/** Go's oauth2 reads at most 1 MiB of a token response; so do we by default. */
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** The checked `fetch` and `maxResponseBytes` options. */
export interface HttpSettings {
  /** The user's fetch; the global one (looked up per call) when absent. */
  fetch: typeof fetch | undefined;
  maxResponseBytes: number;
}

/**
 * Checks the options every grant and preset shares.
 *
 * @throws `ConfigError` naming `fetch` or `maxResponseBytes`
 */
export function checkHttp(options: { fetch?: unknown; maxResponseBytes?: unknown }): HttpSettings {
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    throw new ConfigError('must be a fetch function', { option: 'fetch' });
  const max = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1)
    throw new ConfigError('must be a positive whole number of bytes', { option: 'maxResponseBytes' });
  return { fetch: options.fetch as typeof fetch | undefined, maxResponseBytes: max };
}

/** Statuses whose response has no body; `new Response` refuses one. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A customFetch for openid-client: runs the user's fetch under the caller's signal,
 * records what the error mapper needs into `observed`, and reads the body itself, at
 * most `maxResponseBytes` of it (after decompression, so a gzip bomb stops at the cap
 * too). openid-client gets a fresh Response over the bytes read.
 */
export function endpointFetch(
  http: HttpSettings,
  signal: AbortSignal | undefined,
  observed: Observed,
  what: string,
): client.CustomFetch {
  return async (url, options) => {
    const signals = [options.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    const fetchImpl = http.fetch ?? globalThis.fetch;
    const response = await fetchImpl(url, {
      ...options,
      ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
    } as RequestInit);
    const seen: NonNullable<Observed['response']> = { status: response.status, headers: response.headers };
    observed.response = seen;
    const bytes = await readCapped(response, http.maxResponseBytes, () => {
      observed.failure = tooLarge(what, url, response.status, http.maxResponseBytes);
      return observed.failure;
    });
    if (!response.ok) seen.body = new TextDecoder().decode(bytes.subarray(0, 64 * 1024));
    return new Response(NULL_BODY.has(response.status) ? null : bytes, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/**
 * Reads a body up to `max` bytes; past that, cancels the stream (freeing the socket)
 * and throws what `tooLarge` returns. A declared `Content-Length` over the cap on an
 * unencoded body is refused before reading.
 */
async function readCapped(
  response: Response,
  max: number,
  tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const body = response.body;
  if (!body) return new Uint8Array(0);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (!response.headers.has('content-encoding') && declared > max) {
    await body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
