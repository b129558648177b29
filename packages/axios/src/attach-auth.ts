import {
  AxiosError,
  AxiosHeaders,
  CanceledError,
  getAdapter,
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { ConfigError, type AuthorizeResult, type AuthStrategy } from '@authrail/core';

function isStream(data: unknown): boolean {
  if (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream) return true;
  const candidate = data as { pipe?: unknown; on?: unknown } | null | undefined;
  return typeof candidate?.pipe === 'function' && typeof candidate.on === 'function'; // a Node Readable
}

/** The headers axios is about to send, as a `Headers` (multi-values joined). */
function headersView(headers: AxiosHeaders): Headers {
  const view = new Headers();
  for (const [name, value] of Object.entries(headers.toJSON() as Record<string, unknown>)) {
    if (value !== undefined && value !== null && value !== false)
      view.set(name, Array.isArray(value) ? value.join(', ') : String(value));
  }
  return view;
}

/** Writes what the policies changed back onto axios' headers (keeps axios' own casing). */
function writeBack(headers: AxiosHeaders, before: Headers, after: Headers): void {
  after.forEach((value, name) => {
    if (before.get(name) !== value) headers.set(name, value);
  });
  before.forEach((_value, name) => {
    if (!after.has(name)) headers.delete(name);
  });
}

/** Signals that end the wait for a token: the caller's, and axios' own `timeout`. */
function waitSignal(config: InternalAxiosRequestConfig): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (config.signal && 'aborted' in config.signal) signals.push(config.signal as AbortSignal);
  if (typeof config.timeout === 'number' && config.timeout > 0)
    signals.push(AbortSignal.timeout(config.timeout));
  return signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

/** The error axios itself would raise: `CanceledError` for an abort, its timeout error for `timeout`. */
function asAxiosAbort(
  error: unknown,
  signal: AbortSignal | undefined,
  config: InternalAxiosRequestConfig,
): unknown {
  if (!signal?.aborted || error !== signal.reason) return error;
  if ((error as { name?: unknown }).name === 'TimeoutError' && !config.signal?.aborted) {
    const clarify = config.transitional?.clarifyTimeoutError === true;
    return new AxiosError(
      config.timeoutErrorMessage ?? `timeout of ${config.timeout}ms exceeded`,
      clarify ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED,
      config,
    );
  }
  return new CanceledError(undefined, undefined, config);
}

/**
 * Installs authrail on an axios instance and returns `detach()`, which removes exactly
 * what it installed (one request interceptor).
 *
 * How it sits in axios: the interceptor only wraps the request's adapter. The request is
 * authorized *at dispatch*, after every request interceptor (whatever order they were
 * added in) and after axios' `transformRequest`, so policies see the final URL
 * (`baseURL` + `url` + `params`), headers and serialised body. A 401 is answered inside
 * the adapter by one replay with a fresh token and the same serialised body, so request
 * and response interceptors run once per call and response interceptors see only the
 * final response. Request interceptors never see `Authorization`.
 *
 * Errors keep their usual types: HTTP errors (a second 401 too) stay `AxiosError`; an
 * abort while the token is fetched is axios' `CanceledError`; axios' `timeout` expiring
 * while waiting for a token is axios' timeout `AxiosError` (`ECONNABORTED`, or
 * `ETIMEDOUT` with `transitional.clarifyTimeoutError`); authrail's own errors
 * (`MissingScopeError`, `TokenEndpointError`) reach the caller unwrapped. Token requests
 * never go through this instance (no self-deadlock).
 *
 * @param instance - the axios instance (from `axios.create()`, or `axios` itself)
 * @param strategy - any {@link AuthStrategy}, e.g. from a provider preset
 * @returns `detach()`: removes authrail's interceptor; requests already dispatched finish as they began
 * @throws {@link ConfigError} naming `instance` or `strategy` when either is not one
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
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.getUri !== 'function') {
    throw new ConfigError('must be an axios instance', { option: 'instance' });
  }
  if (
    typeof strategy?.authorize !== 'function' ||
    typeof strategy.isRejected !== 'function' ||
    typeof strategy.reject !== 'function'
  ) {
    throw new ConfigError('must be an AuthStrategy', { option: 'strategy' });
  }

  // Our wrappers, so a config that already carries one (a caller re-sending
  // `error.config`) is not wrapped twice.
  const wrapped = new WeakMap<AxiosAdapter, InternalAxiosRequestConfig['adapter']>();

  const wrap = (inner: InternalAxiosRequestConfig['adapter']): AxiosAdapter => {
    const authAdapter: AxiosAdapter = async (config) => {
      const send = getAdapter(inner, config);
      const replayable = isStream(config.data) ? 'one-shot stream body' : true;
      for (let replayCount = 0; ; replayCount += 1) {
        const url = new URL(instance.getUri(config));
        const headers = AxiosHeaders.from(config.headers).concat(); // a copy per attempt
        const before = headersView(headers);
        const view = { method: (config.method ?? 'get').toUpperCase(), url, headers: new Headers(before) };
        const signal = waitSignal(config);
        let used: AuthorizeResult;
        try {
          used = await strategy.authorize(view, signal ? { signal } : {});
        } catch (error) {
          throw asAxiosAbort(error, signal, config);
        }
        if (!used.applied) return send(config);
        writeBack(headers, before, view.headers);
        // Each attempt is its own config (what `response.config` shows); the final URL,
        // scope included, replaces baseURL + url + params.
        const attempt: InternalAxiosRequestConfig = {
          ...config,
          url: view.url.href,
          baseURL: undefined,
          params: undefined,
          headers,
        } as InternalAxiosRequestConfig;

        let response: AxiosResponse;
        let failure: AxiosError | undefined;
        try {
          response = await send(attempt);
        } catch (error) {
          if (!(error instanceof AxiosError) || !error.response) throw error;
          failure = error;
          response = error.response;
        }
        const responseHeaders = AxiosHeaders.from(response.headers as AxiosHeaders);
        const rejected = strategy.isRejected({
          status: response.status,
          headers: { get: (name) => responseHeaders.get(name)?.toString() ?? null },
        });
        if (!rejected) {
          if (failure) throw failure;
          return response;
        }
        const decision = await strategy.reject(used, {
          method: view.method,
          url: view.url,
          replayCount,
          replayable,
        });
        if (!decision.replay) {
          if (failure) throw failure;
          return response;
        }
        const data: unknown = response.data;
        if (isStream(data)) (data as { destroy?: () => void }).destroy?.(); // responseType: 'stream'
      }
    };
    wrapped.set(authAdapter, inner);
    return authAdapter;
  };

  const id = instance.interceptors.request.use((config) => {
    const current = config.adapter;
    const inner = typeof current === 'function' && wrapped.has(current) ? wrapped.get(current) : current;
    config.adapter = wrap(inner);
    return config;
  });

  return () => instance.interceptors.request.eject(id);
}
