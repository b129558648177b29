import { ConfigError, type AuthRequest, type AuthResponse, type AuthStrategy } from '@authrail/core';

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
   * The `fetch` to send with, called once per hop as fetch is called: a `URL` and an init,
   * or the caller's own bodiless `Request` and an init holding the hop's headers (and its
   * method, if it differs). The init's headers are a plain record; fields at fetch's
   * defaults (`GET`, no body, `redirect: 'follow'`) are left out. Default: the global
   * `fetch`, looked up on each call.
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
  /**
   * Says whether a `Request` input carries a one-shot body that must be neither
   * buffered nor replayed. A `ReadableStream` given as `init.body` is always one-shot;
   * wrappers that turn a caller's stream into a `Request` (as ky does) use this to say so.
   */
  isOneShot?: (request: Request) => boolean;
}

/** Fetch normalises these methods to upper case and leaves any other as given. */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function normaliseMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALISED_METHODS.has(upper) ? upper : method;
}

function isStream(body: unknown): body is ReadableStream {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
}

/** Browsers (pages and workers) follow redirects out of sight; servers and workers show them. */
function runtimeHidesRedirects(): boolean {
  const scope = globalThis as { document?: unknown; importScripts?: unknown };
  return typeof scope.document === 'object' || typeof scope.importScripts === 'function';
}

/**
 * The fields of a `Request` input that a new request must keep (browsers read them).
 * Only those that differ from fetch's defaults: each one given costs fetch a check
 * (the referrer a URL parse) on every hop, and a default given is the default anyway.
 * Undefined when all are defaults, as for every request ky makes in Node.
 */
function requestFields(request: Request): RequestInit | undefined {
  let fields: RequestInit | undefined;
  if (request.credentials !== 'same-origin') (fields ??= {}).credentials = request.credentials;
  if (request.cache !== 'default') (fields ??= {}).cache = request.cache;
  if (request.integrity) (fields ??= {}).integrity = request.integrity;
  if (request.keepalive) (fields ??= {}).keepalive = true;
  if (request.referrer !== 'about:client') (fields ??= {}).referrer = request.referrer;
  if (request.referrerPolicy) (fields ??= {}).referrerPolicy = request.referrerPolicy;
  if (request.mode !== 'cors' && request.mode !== 'navigate') (fields ??= {}).mode = request.mode;
  return fields;
}

/** What `init` sets that a request view does not carry: undici's `dispatcher` and the like. */
const VIEW_FIELDS = new Set(['body', 'headers', 'method', 'signal', 'redirect']);

/** The options of `init` to pass along to every hop, or undefined when there are none. */
function passedAlong(init: RequestInit): Record<string, unknown> | undefined {
  let rest: Record<string, unknown> | undefined;
  for (const key in init) {
    if (!VIEW_FIELDS.has(key)) (rest ??= {})[key] = (init as Record<string, unknown>)[key];
  }
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

/**
 * A hop's headers as the init fetch converts most cheaply: a plain record, whose values
 * fetch checks once as it fills its request (a `Headers` built here would have each value
 * checked twice, once here and once as fetch copies it). A header named `__proto__` cannot
 * be a record's own key: then a `Headers`.
 */
function hopHeadersInit(headers: Headers): HeadersInit {
  const record: Record<string, string> = {};
  let plain = true;
  headers.forEach((value, name) => {
    if (name === '__proto__') plain = false;
    else record[name] = value;
  });
  return plain ? record : new Headers(Array.from(headers));
}

function toHop(response: Response): FetchHop {
  return new FetchHop(response);
}

/**
 * A body that can be sent once more with the same bytes. FormData is serialised once
 * (its multipart boundary is random per serialisation) and its `Content-Type` kept;
 * strings, bytes, Blobs and URLSearchParams serialise the same way every time.
 */
async function replayableBody(body: BodyInit, headers: Headers): Promise<BodyInit> {
  if (typeof FormData === 'undefined' || !(body instanceof FormData)) return body;
  const serialised = new Response(body);
  const type = serialised.headers.get('content-type');
  if (type && !headers.has('content-type')) headers.set('Content-Type', type);
  return serialised.arrayBuffer();
}

/**
 * Wraps `fetch` so that every request goes through the strategy's request loop: a valid
 * credential on every hop to an allowed origin and on no other, redirects followed hop
 * by hop, a rejected credential (401) replayed once with a fresh token and the same
 * bytes. A `ReadableStream` body is one-shot: it is sent once and never replayed. The
 * result has `fetch`'s signature, returns fetch's own `Response`s and throws fetch's own
 * errors; it works in Node, browsers, Bun, Deno and workers.
 *
 * @param strategy - any {@link AuthStrategy}, e.g. from a provider preset
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
  if (options.isOneShot !== undefined && typeof options.isOneShot !== 'function') {
    throw new ConfigError('must be a function of the Request', { option: 'isOneShot' });
  }
  const { isOneShot } = options;
  const transportFollowsRedirects =
    (options.redirects ?? (runtimeHidesRedirects() ? 'runtime' : 'hop-by-hop')) === 'runtime';
  const sendOptions = { transportFollowsRedirects };

  const authFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Read at call time, so test doubles and polyfills installed later are honoured;
    // called as a plain function, never as a method (browsers reject a foreign `this`).
    const send = options.fetch ?? globalThis.fetch;
    // Options a Request does not carry (undici's `dispatcher` for proxies, and the like)
    // go along to every hop.
    const initBody = init?.body;
    const initHeaders = init?.headers;
    const initMethod = init?.method;
    const initRedirect = init?.redirect;
    const passAlong = init && passedAlong(init);
    let request: AuthRequest;
    let signal: AbortSignal | null | undefined = init?.signal;
    let fields: RequestInit | undefined;
    // A bodiless Request input whose hop keeps its URL goes to fetch as it is, the hop's
    // method and headers in init: fetch copies it without parsing its URL again.
    let asInput: Request | undefined;
    let inputUrl: string | undefined;
    if (input instanceof Request) {
      signal ??= input.signal;
      fields = requestFields(input);
      inputUrl = input.url;
      if (input.body === null && initBody == null) asInput = input;
      let body: unknown = initBody ?? null;
      let bodyIsStream = isStream(body);
      if (initBody === undefined && input.body !== null) {
        if (isOneShot?.(input) === true) {
          body = input.body;
          bodyIsStream = true;
        } else body = await input.clone().arrayBuffer(); // the caller's Request stays usable
      }
      const headers = initHeaders === undefined ? input.headers : new Headers(initHeaders);
      request = {
        method: normaliseMethod(initMethod ?? input.method),
        url: new URL(inputUrl),
        headers,
        body: body === null || bodyIsStream ? body : await replayableBody(body as BodyInit, headers),
        bodyIsStream,
        redirect: initRedirect ?? input.redirect,
      };
    } else {
      const headers = new Headers(initHeaders);
      const body = initBody ?? null;
      const bodyIsStream = isStream(body);
      request = {
        method: initMethod === undefined ? 'GET' : normaliseMethod(initMethod),
        url: new URL(
          input instanceof URL ? input.href : input,
          (globalThis as { location?: { href: string } }).location?.href,
        ),
        headers,
        body: body === null || bodyIsStream ? body : await replayableBody(body, headers),
        bodyIsStream,
        redirect: initRedirect ?? 'follow',
      };
    }
    const next = (out: AuthRequest): Promise<FetchHop> => {
      if (asInput !== undefined && out.body === null && out.url.href === inputUrl) {
        const viaInput: RequestInit = {
          headers: hopHeadersInit(out.headers),
          redirect: out.redirect ?? 'follow',
        };
        if (out.method !== asInput.method) viaInput.method = out.method;
        // The input's own signal is followed unless init gave another; a non-empty init
        // resets the referrer, so the input's fields go along.
        if (init?.signal) viaInput.signal = init.signal;
        if (fields) Object.assign(viaInput, fields);
        if (passAlong) Object.assign(viaInput, passAlong);
        return send(asInput, viaInput).then(toHop);
      }
      // Built field by field: object spreads cost more than the rest of the hop. What
      // fetch defaults to (GET, no body, follow) is left out: each field given costs a check.
      const hopInit: RequestInit & { duplex?: 'half' } = { headers: hopHeadersInit(out.headers) };
      if (out.method !== 'GET') hopInit.method = out.method;
      if (out.body !== null && out.body !== undefined) hopInit.body = out.body as BodyInit;
      if (out.redirect !== undefined && out.redirect !== 'follow') hopInit.redirect = out.redirect;
      if (signal) hopInit.signal = signal;
      if (out.bodyIsStream) hopInit.duplex = 'half';
      if (fields) Object.assign(hopInit, fields);
      if (passAlong) Object.assign(hopInit, passAlong);
      return send(out.url, hopInit).then(toHop);
    };
    const hop = await strategy.send(
      request,
      next,
      signal ? { signal, transportFollowsRedirects } : sendOptions,
    );
    return hop.response;
  };
  return authFetch as typeof fetch;
}
