import {
  ConfigError,
  checkOptions,
  isStreamBody,
  runtimeFollowsRedirects,
  type AuthRequest,
  type AuthResponse,
  type AuthStrategy,
} from '@authrail/core';

/**
 * Options of {@link createAuthFetch}.
 *
 * @example
 * ```ts
 * import { fetch as undiciFetch } from 'undici';
 * const api = createAuthFetch(strategy, { fetch: undiciFetch as typeof fetch });
 * ```
 */
export interface AuthFetchOptions {
  /**
   * The `fetch` to send with, called once per hop with the hop's URL and an init (its
   * method, headers, body and redirect mode, the caller's signal, and whatever else the
   * caller's init or `Request` carries, such as undici's `dispatcher`). Default: the
   * global `fetch`, looked up on each call.
   */
  fetch?: typeof fetch;
  /**
   * Who follows redirects. `'hop-by-hop'`: authrail does, checking every hop's origin
   * before it carries a credential; this needs a `fetch` that returns a 3xx for
   * `redirect: 'manual'` (Node, Bun, Deno, workers). `'runtime'`: the runtime does, out
   * of sight (browsers, whose `manual` gives an opaque response); it drops only
   * `Authorization` on the way, so authrail refuses to let any other credential be
   * followed. Default: `'runtime'` where there is a `document` or `importScripts`
   * (browser pages and workers), `'hop-by-hop'` elsewhere.
   */
  redirects?: 'hop-by-hop' | 'runtime';
}

/** Fetch normalises these methods to upper case and leaves any other as given. */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function normaliseMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALISED_METHODS.has(upper) ? upper : method;
}

/** The fields of a `Request` input that each hop must keep (browsers read them), where not fetch's defaults. */
function requestFields(request: Request): RequestInit {
  const fields: RequestInit = {};
  if (request.credentials !== 'same-origin') fields.credentials = request.credentials;
  if (request.cache !== 'default') fields.cache = request.cache;
  if (request.integrity) fields.integrity = request.integrity;
  if (request.keepalive) fields.keepalive = true;
  if (request.referrer !== 'about:client') fields.referrer = request.referrer;
  if (request.referrerPolicy) fields.referrerPolicy = request.referrerPolicy;
  if (request.mode !== 'cors' && request.mode !== 'navigate') fields.mode = request.mode;
  return fields;
}

/** What `init` sets besides the request itself (undici's `dispatcher` and the like): it goes along to every hop. */
function passedAlong(init: RequestInit | undefined): RequestInit {
  const {
    body: _body,
    headers: _headers,
    method: _method,
    signal: _signal,
    redirect: _redirect,
    ...rest
  } = init ?? {};
  return rest;
}

/** One hop's answer: what core reads, and fetch's own `Response`. */
class FetchHop implements AuthResponse {
  constructor(readonly response: Response) {}
  get status(): number {
    return this.response.status;
  }
  get headers(): Headers {
    return this.response.headers;
  }
  get url(): string {
    return this.response.url;
  }
  discard(): Promise<void> | undefined {
    return this.response.body?.cancel().catch(() => undefined);
  }
}

function isForm(body: unknown): body is FormData {
  return typeof FormData !== 'undefined' && body instanceof FormData;
}

/**
 * A FormData body as bytes that can be sent once more: serialised once (its multipart
 * boundary is random per serialisation), its `Content-Type` kept. Strings, bytes, Blobs
 * and URLSearchParams serialise the same way every time and go as they are.
 */
async function formBytes(body: FormData, headers: Headers): Promise<ArrayBuffer> {
  const serialised = new Response(body);
  const type = serialised.headers.get('content-type');
  if (type && !headers.has('content-type')) headers.set('Content-Type', type);
  return serialised.arrayBuffer();
}

/**
 * How much of a `Request` input's body is read to make it replayable: a body up to this
 * is read (from a clone) into bytes; a longer one is sent as it is, once.
 */
const REPLAYABLE_REQUEST_BYTES = 1024 * 1024;

/**
 * A `Request` input's body: its bytes when it ends within {@link REPLAYABLE_REQUEST_BYTES}
 * (read from a clone: the caller's `Request` stays usable), else its own stream, sent once
 * (what was read is in it still; nothing more than the cap is held).
 */
async function requestBody(input: Request): Promise<{ body: unknown; bodyIsStream: boolean }> {
  const reader = input.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > REPLAYABLE_REQUEST_BYTES) {
      await reader.cancel();
      return { body: input.body, bodyIsStream: true };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  for (let at = 0, i = 0; i < chunks.length; at += chunks[i]!.byteLength, i += 1) bytes.set(chunks[i]!, at);
  return { body: bytes, bodyIsStream: false };
}

/**
 * The request core sends, from fetch's arguments; what each hop's init carries besides it;
 * and the caller's bodiless `Request`, which a hop to its own URL is sent on as it is.
 */
async function requestOf(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Promise<{ request: AuthRequest; along: RequestInit; asIs?: Request }> {
  const along = passedAlong(init);
  let body: unknown = init?.body ?? null;
  let bodyIsStream = isStreamBody(body);
  if (!(input instanceof Request)) {
    const headers = new Headers(init?.headers);
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const url = new URL(input instanceof URL ? input.href : input, base);
    if (isForm(body)) body = await formBytes(body, headers);
    const method = normaliseMethod(init?.method ?? 'GET');
    return {
      request: { method, url, headers, body, bodyIsStream, redirect: init?.redirect ?? 'follow' },
      along,
    };
  }
  if (init?.body === undefined && input.body !== null) ({ body, bodyIsStream } = await requestBody(input));
  // Core never changes a request's headers (each hop gets a copy): the Request's own will do.
  const headers = init?.headers === undefined ? input.headers : new Headers(init.headers);
  if (isForm(body)) body = await formBytes(body, headers);
  const request: AuthRequest = {
    method: normaliseMethod(init?.method ?? input.method),
    url: new URL(input.url),
    headers,
    body,
    bodyIsStream,
    redirect: init?.redirect ?? input.redirect,
  };
  // A bodiless Request (ky's GET) is sent as it is on a hop to its own URL: fetch copies its
  // URL, signal and fields instead of parsing them again (about 50 K instructions a request
  // through ky). Anywhere else, the hop's URL with the Request's fields and signal.
  return {
    request,
    along: Object.assign(requestFields(input), { signal: input.signal }, along),
    ...(body === null ? { asIs: input } : {}),
  };
}

/**
 * Wraps `fetch` so that every request goes through the strategy's request loop: a valid
 * credential on every hop to an allowed origin and on no other, redirects followed hop
 * by hop, a rejected credential (401) replayed once with a fresh token and the same
 * bytes. A stream body (a `ReadableStream`, a Node `Readable`, an async iterable) is sent
 * once and never replayed: after a 401 the caller gets the 401, and the `rejected` event
 * says why. The result has `fetch`'s signature, returns fetch's own `Response`s and throws
 * fetch's own errors; it works in Node, browsers, Bun, Deno and workers.
 *
 * @param strategy - any {@link AuthStrategy}, e.g. from a preset
 * @param options - the `fetch` to wrap, and who follows redirects
 * @returns a function with the signature of `fetch`
 * @throws `ConfigError` (from `@authrail/core`) naming `strategy` or `fetch` when either is not one
 * @example
 * ```ts
 * import { createAuthFetch } from '@authrail/fetch';
 * import { mskApim } from '@authrail/msk-apim';
 *
 * const api = createAuthFetch(mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001' }));
 * const res = await api(`${baseUrl}/msk-apim/external/blaze/fhir/Patient`);
 * ```
 */
export function createAuthFetch(strategy: AuthStrategy, options: AuthFetchOptions = {}): typeof fetch {
  if (typeof strategy?.send !== 'function') {
    throw new ConfigError('must be an AuthStrategy (with send)', { option: 'strategy' });
  }
  checkOptions(options, ['fetch', 'redirects']);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new ConfigError('must be a fetch function', { option: 'fetch' });
  }
  if (
    options.redirects !== undefined &&
    options.redirects !== 'hop-by-hop' &&
    options.redirects !== 'runtime'
  ) {
    throw new ConfigError("must be 'hop-by-hop' or 'runtime'", { option: 'redirects' });
  }
  const transportFollowsRedirects =
    (options.redirects ?? (runtimeFollowsRedirects() ? 'runtime' : 'hop-by-hop')) === 'runtime';

  const authFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Read at call time, so test doubles and polyfills installed later are honoured;
    // called as a plain function, never as a method (browsers reject a foreign `this`).
    const send = options.fetch ?? globalThis.fetch;
    const { request, along, asIs } = await requestOf(input, init);
    const signal = init?.signal ?? along.signal ?? undefined;
    const next = (out: AuthRequest): Promise<FetchHop> => {
      const own = asIs !== undefined && out.body === null && out.url.href === asIs.url;
      // What fetch defaults to (GET, no body, follow) is left out: each field given costs
      // fetch a check on every hop (about 16 K instructions a request in all).
      // Not `{ ...along, headers }`: on Node 20 a spread that adds a field costs ~1 µs.
      const hopInit: RequestInit & { duplex?: 'half' } = Object.assign(
        { headers: out.headers },
        own ? passedAlong(init) : along,
      );
      if (out.method !== (own ? asIs.method : 'GET')) hopInit.method = out.method;
      if (out.body !== null && out.body !== undefined) hopInit.body = out.body as BodyInit;
      if (out.redirect !== undefined && out.redirect !== 'follow') hopInit.redirect = out.redirect;
      if (signal && (!own || init?.signal)) hopInit.signal = signal;
      if (out.bodyIsStream) hopInit.duplex = 'half';
      return send(own ? asIs : out.url, hopInit).then((response) => new FetchHop(response));
    };
    const hop = await strategy.send(request, next, {
      ...(signal ? { signal } : {}),
      transportFollowsRedirects,
    });
    return hop.response;
  };
  return authFetch as typeof fetch;
}
