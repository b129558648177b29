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
  isStreamBody,
  runtimeFollowsRedirects,
  withoutAddedQuery,
  type AuthRequest,
  type AuthResponse,
  type AuthStrategy,
} from '@authrail/core';

/** A request's config, as axios gives it to an adapter. */
type Config = InternalAxiosRequestConfig;
/** A request's headers as axios will send them, by lower-case name. */
type Sent = Map<string, string>;

/**
 * The axios module an instance came from. A CommonJS app that loads this (ES module)
 * package has two copies of axios in memory; errors must be the app's own copy's, and
 * its adapters resolved by that copy, so each instance is matched to its copy.
 */
function copyOf(instance: AxiosInstance): AxiosStatic {
  const proto = Object.getPrototypeOf(instance.interceptors.request) as unknown;
  if (Object.getPrototypeOf(ownAxios.interceptors.request) === proto) return ownAxios;
  // The CommonJS copy, in runtimes that have one (Node, Bun); never in browsers.
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const module = process?.getBuiltinModule?.('node:module') as
    { createRequire(from: string): (id: string) => unknown } | undefined;
  try {
    const copy = module?.createRequire(import.meta.url)('axios') as AxiosStatic | undefined;
    if (copy && Object.getPrototypeOf(copy.interceptors.request) === proto) return copy;
  } catch {
    // No CommonJS axios to load: the instance is of some other copy, treated as ours.
  }
  return ownAxios;
}

/** An axios error with a response (duck typed: any copy of axios). */
type ResponseError = { isAxiosError: true; config?: unknown; request?: unknown; response: AxiosResponse };

function isResponseError(error: unknown): error is ResponseError {
  const candidate = error as Partial<ResponseError> | null;
  return candidate?.isAxiosError === true && typeof candidate.response?.status === 'number';
}

/** The URL axios would send to (`baseURL` + `url` + `params`), without asking `getUri` in the common case. */
function requestUrl(instance: AxiosInstance, config: Config): string {
  const params = config.params as Record<string, unknown> | URLSearchParams | undefined | null;
  if (params != null && (params instanceof URLSearchParams || Object.keys(params).length > 0))
    return instance.getUri(config);
  const url = config.url ?? '';
  const base = config.baseURL;
  const absolute = /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  if (base && (!absolute || config.allowAbsoluteUrls === false))
    return url ? `${base.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : base;
  return url;
}

/**
 * A FormData body as bytes, serialised once (its multipart boundary is random per
 * serialisation): a replay sends the same bytes under the same `Content-Type`.
 */
async function replayableForm(data: FormData, headers: Headers): Promise<unknown> {
  const serialised = new Response(data);
  headers.set('Content-Type', serialised.headers.get('content-type')!);
  const bytes = await serialised.arrayBuffer();
  // axios' Node adapter takes a Buffer (not a bare Uint8Array); browsers take the bytes.
  const NodeBuffer = (globalThis as { Buffer?: { from(data: ArrayBuffer): Uint8Array } }).Buffer;
  return NodeBuffer ? NodeBuffer.from(bytes) : new Uint8Array(bytes);
}

/** A header value as one string (axios keeps a repeated header as an array), or null. */
function headerValue(value: unknown): string | null {
  return value == null ? null : Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * The request's headers as axios will send them, into `sent` (by lower-case name): what
 * each hop's headers are compared with, on a map (a `Headers` checks every name it is asked).
 */
function headersOf(headers: Config['headers'], sent: Sent): Headers {
  const view = new Headers();
  for (const [name, value] of Object.entries(headers.toJSON() as Record<string, unknown>)) {
    if (value == null || value === false) continue;
    const shown = headerValue(value)!;
    view.set(name, shown);
    sent.set(name.toLowerCase(), shown);
  }
  return view;
}

/**
 * One hop's answer: what core reads, and axios' own response, or the `AxiosError` axios
 * raised for it (a status `validateStatus` refuses), which is rethrown at the end.
 */
interface AxiosHop extends AuthResponse {
  response: AxiosResponse;
  error: ResponseError | undefined;
}

/** What every hop of one request shares. */
interface Call {
  axios: AxiosStatic;
  inner: AxiosAdapter;
  /** The caller's config, as axios had it before authrail: what responses and errors show. */
  config: Config;
  /** The request as core got it. */
  request: AuthRequest;
  /** Its headers as axios will send them: what each hop's headers are compared with. */
  sent: Sent;
}

/**
 * A hop's headers for axios: the caller's, with what the policies set or removed. A
 * FormData serialised once keeps the `Content-Type` of its bytes.
 */
function hopHeaders(call: Call, out: AuthRequest): Config['headers'] {
  const headers = call.config.headers.concat();
  const { sent } = call;
  out.headers.forEach((value, name) => {
    if (sent.get(name) !== value || (name === 'content-type' && call.request.body !== call.config.data))
      headers.set(name, value);
  });
  for (const name of sent.keys()) if (!out.headers.has(name)) headers.delete(name);
  return headers;
}

/** What of Node's `ClientRequest` the adapter looks at. */
type NodeRequest = { once?(event: 'close', done: () => void): void; closed?: boolean; getHeader?: unknown };

/**
 * Waits until Node's `ClientRequest` of a read response has let its socket go (its
 * `close`): until then a socket of your agent (which `config.httpAgent` reaches) still
 * points at it, and so at the credential it sent. Anything else is released at once.
 */
function released(request: unknown): Promise<void> | undefined {
  const node = request as NodeRequest | null;
  if (typeof node?.once !== 'function' || typeof node.getHeader !== 'function' || node.closed)
    return undefined;
  return new Promise((resolve) => node.once!('close', resolve));
}

/**
 * Whether a request object holds the headers it sent: Node's `ClientRequest` (the http
 * adapter's) and a fetch `Request` (the fetch adapter's) do; a browser's XHR shows none.
 */
function carriesCredential(request: unknown): boolean {
  return (
    typeof (request as NodeRequest | null)?.getHeader === 'function' ||
    (typeof Request !== 'undefined' && request instanceof Request)
  );
}

/** What axios gives back that points at a config and a request: a response, an error. */
type Held = { config?: unknown; request?: unknown };

/**
 * Points what axios gave back for a hop at the caller's config, and shows where the hop
 * went (query values the policies set left out) in place of a request object that
 * carries the credential.
 */
function withoutCredentials<T extends Held>(target: T, call: Call, out: AuthRequest): T {
  target.config = call.config;
  if (!carriesCredential(target.request)) return target;
  target.request = Object.freeze({
    method: out.method,
    url: withoutAddedQuery(out.url, call.request.url.search),
    note: 'authrail: the request object is held back, as it carries the credential',
  });
  return target;
}

/** The fetch adapter of the instance's copy of axios, for a hop XHR could not stop at a redirect. */
function fetchAdapter(call: Call, out: AuthRequest): AxiosAdapter {
  try {
    return call.axios.getAdapter('fetch', call.config);
  } catch {
    throw new RedirectError(
      `${out.method} ${out.url.origin}${out.url.pathname} carries a credential the browser would forward on a redirect, and XHR cannot stop one (no fetch here); not sent`,
      { status: 0 },
    );
  }
}

/**
 * Sends one hop with axios' adapter, on a config of its own (the caller's config, with the
 * hop's URL, method, headers and body): `manual` means not to follow a redirect, which XHR
 * cannot do, so such a hop goes through axios' fetch adapter.
 */
function sendHop(call: Call, out: AuthRequest): Promise<AxiosHop> {
  const { config } = call;
  // Copied key by key: a spread of the (dictionary-mode) object axios builds costs several
  // times more instructions than the rest of the hop.
  const hop = {} as Record<string, unknown>;
  for (const key of Object.keys(config)) hop[key] = config[key as keyof typeof config];
  hop.url = out.url.href;
  hop.baseURL = undefined;
  hop.params = undefined;
  hop.method = out.method.toLowerCase();
  hop.headers = hopHeaders(call, out);
  hop.data = out.body;
  let send = call.inner;
  if (out.redirect === 'manual') {
    hop.maxRedirects = 0;
    const adapterName = (call.inner as { adapterName?: unknown }).adapterName;
    if (adapterName === 'xhr') send = fetchAdapter(call, out);
    if (adapterName === 'fetch' || send !== call.inner)
      hop.fetchOptions = { ...(config.fetchOptions as object), redirect: 'manual' };
  }
  // Answered once Node has let go of the request that carried the credential.
  const answer = (response: AxiosResponse, error?: ResponseError): AxiosHop | Promise<AxiosHop> => {
    const release = config.responseType === 'stream' ? undefined : released(response.request);
    return release
      ? release.then(() => hopOf(call, out, response, error))
      : hopOf(call, out, response, error);
  };
  // Not awaited: an await costs on every request; the answer is read as it comes.
  return send(hop as unknown as Config).then(answer, (thrown: unknown) => {
    if (!isResponseError(thrown)) throw withoutCredentials(thrown as Held, call, out);
    return answer(thrown.response, thrown);
  });
}

/** What core reads of axios' answer; what the caller gets of it holds no credential. */
function hopOf(call: Call, out: AuthRequest, response: AxiosResponse, error?: ResponseError): AxiosHop {
  const url = (response.request as { responseURL?: string } | undefined)?.responseURL ?? '';
  if (error) withoutCredentials(error, call, out);
  withoutCredentials(response, call, out);
  const headers = response.headers as { get?: (name: string) => unknown } & Record<string, unknown>;
  return {
    status: response.status,
    // axios' own adapters give AxiosHeaders (with get); another adapter may give a plain object.
    headers: {
      get: (name) => headerValue(typeof headers.get === 'function' ? headers.get(name) : headers[name]),
    },
    url,
    discard() {
      (response.data as { destroy?: () => void } | undefined)?.destroy?.(); // responseType: 'stream'
    },
    response,
    error,
  };
}

/** The request core sends: axios' final URL, headers and (replayable) body; undefined for a URL axios will refuse. */
function requestOf(instance: AxiosInstance, config: Config, sent: Sent): AuthRequest | undefined {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(requestUrl(instance, config), base);
  } catch {
    return undefined;
  }
  const { data } = config;
  return {
    method: (config.method ?? 'get').toUpperCase(),
    url,
    headers: headersOf(config.headers, sent),
    body: data ?? null,
    bodyIsStream: isStreamBody(data),
    redirect: config.maxRedirects === 0 ? 'manual' : 'follow',
  };
}

/** What ends the wait for a token: the caller's signal and axios' own `timeout`. */
function signalOf(config: Config): AbortSignal | undefined {
  let signal = config.signal && 'aborted' in config.signal ? (config.signal as AbortSignal) : undefined;
  if (typeof config.timeout === 'number' && config.timeout > 0) {
    const timeout = AbortSignal.timeout(config.timeout);
    signal = signal ? AbortSignal.any([signal, timeout]) : timeout;
  }
  return signal;
}

/** The error axios itself would raise: `CanceledError` for an abort, its timeout error for `timeout`. */
function abortError(axios: AxiosStatic, reason: unknown, config: Config): unknown {
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

/**
 * Installs authrail on an axios instance by wrapping its adapter (`defaults.adapter`):
 * axios has already run your request interceptors and `transformRequest` there, so the
 * policies see the final URL (`baseURL` + `url` + `params`), headers (the
 * `Content-Type` axios chose included) and serialised body. Every request goes through
 * the strategy's request loop: a credential on each hop to an allowed origin and on no
 * other, redirects followed hop by hop in Node (`maxRedirects: 0` returns the 3xx; in
 * browsers XHR follows them and authrail refuses a credential it would forward), a 401
 * replayed once with a fresh token and the same serialised body inside the adapter, so
 * interceptors run once per call and see only the final response. A stream body (a Node
 * `Readable`, a web stream, an async iterable) is sent once and never replayed.
 *
 * Each hop is sent on a config of its own; yours is never changed. Errors keep axios'
 * own types (from your copy of axios, also when a CommonJS app loads a second copy):
 * HTTP errors (a second 401 too) stay `AxiosError`; an abort while the token is fetched
 * is `CanceledError`; `timeout` expiring meanwhile is axios' timeout error. authrail's own
 * errors (`MissingScopeError`, `TokenEndpointError`, `RedirectError`) reach the caller as
 * they are. No credential is left in what you get back: `response.config` and
 * `error.config` are your request's config as axios had it before authrail, and
 * `response.request` / `error.request` show where the hop went (`method` and `url`, less
 * any query value the policies set) in place of Node's `ClientRequest` or the fetch
 * adapter's `Request`, which carry the credential (a browser's XHR stays as it is).
 *
 * A per-request `adapter` option replaces the instance's, and authrail with it.
 *
 * @param instance - the axios instance (from `axios.create()`, or `axios` itself)
 * @param strategy - any {@link AuthStrategy}, e.g. from a preset
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
    const sent: Sent = new Map();
    const request = requestOf(instance, config, sent);
    if (!request) return inner(config); // a URL axios itself will refuse: nothing to authenticate
    if (typeof FormData !== 'undefined' && request.body instanceof FormData)
      request.body = await replayableForm(request.body, request.headers);
    const call: Call = { axios, inner, config, request, sent };
    const signal = signalOf(config);
    const adapterName = (inner as { adapterName?: unknown }).adapterName;
    const hop = await strategy
      .send(request, (out) => sendHop(call, out), {
        signal,
        // XHR follows redirects out of sight; so does fetch in a browser (a page or a worker).
        transportFollowsRedirects:
          adapterName === 'xhr' || (adapterName === 'fetch' && runtimeFollowsRedirects()),
        maxRedirects: config.maxRedirects! > 0 ? config.maxRedirects : undefined,
      })
      .catch((thrown: unknown) => {
        throw signal?.aborted && thrown === signal.reason ? abortError(axios, thrown, config) : thrown;
      });
    if (hop.error) throw hop.error;
    return hop.response;
  };

  instance.defaults.adapter = authAdapter;
  return () => {
    if (instance.defaults.adapter === authAdapter) instance.defaults.adapter = previous;
  };
}
