import ownAxios, {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type AxiosStatic,
  type InternalAxiosRequestConfig,
} from 'axios';
import {
  ConfigError,
  RedirectError,
  type AuthRequest,
  type AuthResponse,
  type AuthStrategy,
  type RedirectMode,
  type SendOptions,
} from '@authrail/core';

/**
 * The axios module an instance came from. A CommonJS app that loads this (ES module)
 * package has two copies of axios in memory; errors must be the app's own copy's, and
 * its adapters resolved by that copy, so each instance is matched to its copy.
 */
function copyOf(instance: AxiosInstance): AxiosStatic {
  const proto = Object.getPrototypeOf(instance.interceptors.request) as unknown;
  const candidates: (() => AxiosStatic | undefined)[] = [
    () => ownAxios,
    () => {
      // The CommonJS copy, in runtimes that have one (Node, Bun); never in browsers.
      const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
      const module = process?.getBuiltinModule?.('node:module') as
        { createRequire(from: string): (id: string) => unknown } | undefined;
      try {
        return module?.createRequire(import.meta.url)('axios') as AxiosStatic | undefined;
      } catch {
        return undefined;
      }
    },
  ];
  for (const candidate of candidates) {
    const copy = candidate();
    if (copy && Object.getPrototypeOf(copy.interceptors.request) === proto) return copy;
  }
  return ownAxios;
}

/** An axios error with a response (duck typed: any copy of axios). */
interface ResponseError {
  isAxiosError: true;
  config?: unknown;
  request?: unknown;
  response: AxiosResponse;
}

function isResponseError(error: unknown): error is ResponseError {
  const candidate = error as Partial<ResponseError> | null;
  return candidate?.isAxiosError === true && typeof candidate.response?.status === 'number';
}

function isStream(data: unknown): boolean {
  if (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream) return true;
  const candidate = data as { pipe?: unknown; on?: unknown } | null | undefined;
  return typeof candidate?.pipe === 'function' && typeof candidate.on === 'function'; // a Node Readable
}

/**
 * The URL axios will request: `baseURL` + `url` as axios' buildFullPath joins them, and,
 * when there are `params`, axios' own serialisation through `getUri` (which merges the
 * config again, so it is kept off the common path).
 */
function requestUrl(instance: AxiosInstance, config: InternalAxiosRequestConfig): string {
  const params = config.params as Record<string, unknown> | URLSearchParams | undefined;
  if (
    params !== undefined &&
    params !== null &&
    (params instanceof URLSearchParams || Object.keys(params).length > 0)
  )
    return instance.getUri(config);
  const url = config.url ?? '';
  const base = config.baseURL;
  const absolute = /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  if (base && (!absolute || config.allowAbsoluteUrls === false))
    return url ? `${base.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : base;
  return url;
}

/** Browsers follow redirects out of sight (XHR always; fetch too). */
function runtimeHidesRedirects(adapterName: unknown): boolean {
  if (adapterName === 'xhr') return true;
  const scope = globalThis as { document?: unknown; importScripts?: unknown };
  return (
    adapterName === 'fetch' &&
    (typeof scope.document === 'object' || typeof scope.importScripts === 'function')
  );
}

/**
 * A `FormData` body as bytes that send the same again: serialised once (axios would give
 * every send a new multipart boundary), its `Content-Type` with the boundary noted in
 * `headers` and `sent`. Any other body axios serialised already, or is a stream, and is
 * sent as it is.
 */
async function replayableForm(data: FormData, headers: Headers, sent: Map<string, string>): Promise<unknown> {
  const serialised = new Response(data);
  const type = serialised.headers.get('content-type')!;
  headers.set('Content-Type', type);
  sent.set('content-type', type);
  const bytes = await serialised.arrayBuffer();
  // axios' Node adapter takes a Buffer (not a bare Uint8Array); browsers take the bytes.
  const NodeBuffer = (globalThis as { Buffer?: { from(data: ArrayBuffer): Uint8Array } }).Buffer;
  return NodeBuffer ? NodeBuffer.from(bytes) : new Uint8Array(bytes);
}

/**
 * axios' headers as `Headers` (multi-values joined), what policies see; the same values
 * go into `sent` by lower-case name, for each hop's headers to be compared with.
 */
function headersOf(headers: InternalAxiosRequestConfig['headers'], sent: Map<string, string>): Headers {
  const view = new Headers();
  const values = headers.toJSON() as Record<string, unknown>;
  for (const name in values) {
    const value = values[name];
    if (value !== undefined && value !== null && value !== false) {
      const text = Array.isArray(value) ? value.join(', ') : String(value);
      view.set(name, text);
      // As `Headers` keeps it (surrounding whitespace stripped), without asking it in the common case.
      sent.set(name.toLowerCase(), text.trim() === text ? text : view.get(name)!);
    }
  }
  return view;
}

const REDACTED = '[redacted]';
let outHeadersKey: symbol | undefined;

/**
 * Scrubs the credential from the client request object axios keeps for a hop, in place:
 * Node's `ClientRequest` (its raw header block, path and header map; the user's agent
 * and the response reference the same object) or the fetch adapter's `Request`. An
 * `XMLHttpRequest` cannot show its request headers and is left as it is.
 */
function scrubRequest(request: unknown, secrets: readonly string[]): void {
  if (secrets.length === 0 || typeof request !== 'object' || request === null) return;
  const scrub = (text: string) => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join(REDACTED);
    return out;
  };
  const node = request as { _header?: unknown; path?: unknown; getHeader?: unknown } & Record<
    symbol,
    unknown
  >;
  if (typeof node._header === 'string') node._header = scrub(node._header);
  if (typeof node.path === 'string' && typeof node.getHeader === 'function') node.path = scrub(node.path);
  outHeadersKey ??= Object.getOwnPropertySymbols(request).find((key) => key.description === 'kOutHeaders');
  const outHeaders = outHeadersKey ? (node[outHeadersKey] as Record<string, [string, unknown]> | null) : null;
  if (outHeaders) {
    for (const entry of Object.values(outHeaders)) {
      if (typeof entry?.[1] === 'string') entry[1] = scrub(entry[1]);
    }
  }
  const headers = (request as { headers?: { forEach?: unknown; set?: unknown } }).headers;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      const clean = scrub(value);
      if (clean !== value) headers.set(name, clean);
    });
  }
}

/** Query values a hop carries that the caller's URL did not: query credentials the policies set. */
function queryCredentials(hop: URL, url: URL): string[] {
  const secrets: string[] = [];
  hop.searchParams.forEach((value, name) => {
    if (url.searchParams.get(name) !== value && value.length >= 4)
      secrets.push(value, encodeURIComponent(value));
  });
  return secrets;
}

/**
 * One hop's answer: what core reads, and axios' own response, or the `AxiosError` axios
 * raised for it (a status `validateStatus` refuses), which is rethrown at the end.
 */
interface AxiosHop extends AuthResponse {
  response: AxiosResponse;
  error: ResponseError | undefined;
}

/**
 * Installs authrail on an axios instance by wrapping its adapter (`defaults.adapter`):
 * axios has already run your request interceptors and `transformRequest` there, so the
 * policies see the final URL (`baseURL` + `url` + `params`), headers (the
 * `Content-Type` axios chose included) and serialised body. Every request goes through
 * the strategy's request loop: a credential on each hop to an allowed origin and on no
 * other, redirects followed hop by hop in Node (`maxRedirects: 0` returns the 3xx; in
 * browsers XHR follows them and authrail refuses a credential it would forward), a 401
 * replayed once with a fresh token and the same serialised body inside the adapter, so
 * interceptors run once per call and see only the final response.
 *
 * Errors keep axios' own types (from your copy of axios, also when a CommonJS app loads
 * a second copy): HTTP errors (a second 401 too) stay `AxiosError`; an abort while the
 * token is fetched is `CanceledError`; `timeout` expiring meanwhile is axios' timeout
 * error. authrail's own errors (`MissingScopeError`, `TokenEndpointError`,
 * `RedirectError`) reach the caller as they are. No credential is left in what you get
 * back: `response.config` and `error.config` are your request's config as axios had it
 * before authrail, and the client request object of every hop (Node's `ClientRequest`,
 * which your agent also holds, or the fetch adapter's `Request`) shows `[redacted]`
 * where the credential was.
 *
 * A per-request `adapter` option replaces the instance's, and authrail with it.
 *
 * @param instance - the axios instance (from `axios.create()`, or `axios` itself)
 * @param strategy - any {@link AuthStrategy}, e.g. from a provider preset
 * @returns `detach()`: puts the instance's previous adapter back (if authrail's is still
 *   the current one); requests already dispatched finish as they began
 * @throws `ConfigError` (from `@authrail/core`) naming `instance` or `strategy` when either is not one
 * @example
 * ```ts
 * import axios from 'axios';
 * import { attachAuth } from '@authrail/axios';
 * import { medblocksClientCredentials } from '@authrail/medblocks';
 *
 * const client = axios.create({ baseURL: 'https://api.medblocks.com/fhir' });
 * const detach = attachAuth(client, medblocksClientCredentials({ baseUrl, clientId, clientSecret }));
 * const { data } = await client.get('/Patient');
 * ```
 */
export function attachAuth(instance: AxiosInstance, strategy: AuthStrategy): () => void {
  if (
    typeof instance?.getUri !== 'function' ||
    typeof instance.defaults !== 'object' ||
    typeof instance.interceptors?.request?.use !== 'function'
  ) {
    throw new ConfigError('must be an axios instance', { option: 'instance' });
  }
  if (typeof strategy?.send !== 'function') {
    throw new ConfigError('must be an AuthStrategy (with send)', { option: 'strategy' });
  }
  const axios = copyOf(instance);
  const previous = instance.defaults.adapter;

  const authAdapter: AxiosAdapter = async (config) => {
    const inner = axios.getAdapter(previous, config);
    let url: URL;
    try {
      url = new URL(
        requestUrl(instance, config),
        (globalThis as { location?: { href: string } }).location?.href,
      );
    } catch {
      return inner(config); // a URL axios itself will refuse: nothing to authenticate
    }
    const sent = new Map<string, string>();
    const original = headersOf(config.headers, sent);
    const { data } = config;
    const adapterName = (inner as { adapterName?: unknown }).adapterName;
    const redirect: RedirectMode = config.maxRedirects === 0 ? 'manual' : 'follow';
    const request: AuthRequest = {
      method: (config.method ?? 'get').toUpperCase(),
      url,
      headers: original,
      body:
        typeof FormData !== 'undefined' && data instanceof FormData
          ? await replayableForm(data, original, sent)
          : (data ?? null),
      bodyIsStream: isStream(data),
      redirect,
    };
    // What ends the wait for a token: the caller's signal and axios' own `timeout`.
    let signal = config.signal && 'aborted' in config.signal ? (config.signal as AbortSignal) : undefined;
    if (typeof config.timeout === 'number' && config.timeout > 0) {
      const timeout = AbortSignal.timeout(config.timeout);
      signal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    }

    const next = async (out: AuthRequest): Promise<AxiosHop> => {
      // The hop is sent with the request's own config, changed for the hop and put back
      // afterwards (a copy of axios' config object costs more than the whole rest of the
      // hop): the final URL (scope included) replaces baseURL + url + params. Its headers
      // are a fresh copy with what the policies changed: axios' adapters add to the headers
      // object they are given (Content-Length), which must not leak into the next hop.
      const headers = config.headers.concat();
      const secrets: string[] = [];
      out.headers.forEach((value, name) => {
        if (sent.get(name) === value) {
          // A FormData serialised once: its multipart Content-Type goes with the bytes.
          if (name === 'content-type' && request.body !== config.data) headers.set(name, value);
          return;
        }
        headers.set(name, value);
        secrets.push(value);
      });
      for (const name of sent.keys()) if (!out.headers.has(name)) headers.delete(name);
      if (out.url.search !== url.search) secrets.push(...queryCredentials(out.url, url));
      const manual = out.redirect === 'manual';
      const saved = {
        url: config.url,
        baseURL: config.baseURL,
        params: config.params as unknown,
        method: config.method,
        headers: config.headers,
        data: config.data as unknown,
        maxRedirects: config.maxRedirects,
        fetchOptions: config.fetchOptions as unknown,
      };
      Object.assign(config, {
        url: out.url.href,
        baseURL: undefined,
        params: undefined,
        method: out.method.toLowerCase(),
        headers,
        data: out.body,
      });
      // `manual`: core follows redirects itself, or (in a browser) the hop carries a
      // credential the browser would forward. XHR cannot stop at a redirect: such a hop goes
      // through axios' own fetch adapter, whose opaque redirect core then refuses.
      let send = inner;
      if (manual) {
        config.maxRedirects = 0;
        if (adapterName === 'xhr') send = fetchAdapter(axios, config, out);
        if (adapterName === 'fetch' || send !== inner)
          config.fetchOptions = { ...(saved.fetchOptions as object), redirect: 'manual' };
      }
      let response: AxiosResponse;
      let error: ResponseError | undefined;
      try {
        response = await send(config);
      } catch (thrown) {
        if (!isResponseError(thrown)) throw redact(thrown, config, secrets);
        error = thrown;
        response = thrown.response;
        error.config = config;
      } finally {
        Object.assign(config, saved);
      }
      scrubRequest(response.request, secrets);
      response.config = config;
      const responseHeaders = response.headers as { get?: (name: string) => unknown } & Record<
        string,
        unknown
      >;
      return {
        status: response.status,
        headers: {
          get: (name) => {
            const value =
              typeof responseHeaders.get === 'function' ? responseHeaders.get(name) : responseHeaders[name];
            return value === undefined || value === null
              ? null
              : Array.isArray(value)
                ? value.join(', ')
                : String(value);
          },
        },
        url: (response.request as { responseURL?: string } | undefined)?.responseURL ?? '',
        discard() {
          const data = response.data as { destroy?: () => void; cancel?: () => unknown } | undefined;
          data?.destroy?.(); // responseType: 'stream'
        },
        response,
        error,
      };
    };

    let hop: AxiosHop;
    try {
      const options: SendOptions = { signal, transportFollowsRedirects: runtimeHidesRedirects(adapterName) };
      if (typeof config.maxRedirects === 'number' && config.maxRedirects > 0)
        options.maxRedirects = config.maxRedirects;
      hop = await strategy.send(request, next, options);
    } catch (thrown) {
      if (signal?.aborted && thrown === signal.reason) throw abortError(axios, thrown, config);
      throw thrown;
    }
    if (hop.error) throw hop.error;
    return hop.response;
  };

  instance.defaults.adapter = authAdapter;
  return () => {
    if (instance.defaults.adapter === authAdapter) instance.defaults.adapter = previous;
  };
}

/** axios' fetch adapter, for a browser hop that must not follow a redirect. */
function fetchAdapter(
  axios: AxiosStatic,
  config: InternalAxiosRequestConfig,
  out: AuthRequest,
): AxiosAdapter {
  try {
    return axios.getAdapter('fetch', config);
  } catch {
    throw new RedirectError(
      `${out.method} ${out.url.origin}${out.url.pathname} carries a credential the browser would forward on a redirect, and XHR cannot stop one (no fetch here); not sent`,
      { status: 0 },
    );
  }
}

/** An error without a response (network, abort): its config and request hold the credential too. */
function redact(error: unknown, config: InternalAxiosRequestConfig, secrets: readonly string[]): unknown {
  const candidate = error as { isAxiosError?: unknown; config?: unknown; request?: unknown } | null;
  if (candidate?.isAxiosError === true) {
    candidate.config = config;
    scrubRequest(candidate.request, secrets);
  }
  return error;
}

/** The error axios itself would raise: `CanceledError` for an abort, its timeout error for `timeout`. */
function abortError(axios: AxiosStatic, reason: unknown, config: InternalAxiosRequestConfig): unknown {
  if ((reason as { name?: unknown }).name === 'TimeoutError' && !config.signal?.aborted) {
    const clarify = config.transitional?.clarifyTimeoutError === true;
    return new axios.AxiosError(
      config.timeoutErrorMessage ?? `timeout of ${config.timeout}ms exceeded`,
      clarify ? axios.AxiosError.ETIMEDOUT : axios.AxiosError.ECONNABORTED,
      config,
    );
  }
  return new axios.CanceledError(undefined, undefined, config);
}
