import {
  AxiosError,
  AxiosHeaders,
  CanceledError,
  type AxiosInstance,
  type InternalAxiosRequestConfig,
} from 'axios';
import { ConfigError, type AuthorizeResult, type AuthStrategy } from '@authrail/core';

/** What the adapter keeps on a request's config, across axios' copies of it. */
interface AuthState {
  used: AuthorizeResult;
  replayCount: number;
}

// A plain string key: axios copies own enumerable config keys into every internal copy
// (a symbol or WeakMap would be lost at dispatch), so the state follows the request.
const STATE = '__authrail';
type WithState = InternalAxiosRequestConfig & { [STATE]?: AuthState };

function isStream(data: unknown): boolean {
  if (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream) return true;
  const candidate = data as { pipe?: unknown; on?: unknown } | null | undefined;
  return typeof candidate?.pipe === 'function' && typeof candidate.on === 'function'; // a Node Readable
}

function isPlainData(data: unknown): boolean {
  if (Array.isArray(data)) return true;
  if (typeof data !== 'object' || data === null) return false;
  const proto = Object.getPrototypeOf(data) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The headers axios is about to send. axios picks `Content-Type: application/json` for
 * an object body only at dispatch, after interceptors; it is shown here so policies
 * (such as Medblocks' FHIR JSON) see and may change it. axios keeps a type already set.
 */
function headersView(config: InternalAxiosRequestConfig): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(
    AxiosHeaders.from(config.headers).toJSON() as Record<string, unknown>,
  )) {
    if (value !== undefined && value !== null && value !== false)
      headers.set(name, Array.isArray(value) ? value.join(', ') : String(value));
  }
  if (!headers.has('content-type') && isPlainData(config.data))
    headers.set('Content-Type', 'application/json');
  return headers;
}

/** Signals that end the wait for a token: the caller's, and axios' own `timeout`. */
function waitSignal(config: InternalAxiosRequestConfig): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (config.signal && 'aborted' in config.signal) signals.push(config.signal as AbortSignal);
  if (typeof config.timeout === 'number' && config.timeout > 0)
    signals.push(AbortSignal.timeout(config.timeout));
  return signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

/**
 * Installs authrail on an axios instance: a request interceptor that authorizes requests
 * to the strategy's origins (and applies its scoping), and a response interceptor that
 * answers a 401 with one replay carrying a fresh token. Returns `detach()`, which removes
 * exactly these two interceptors.
 *
 * Order: axios runs request interceptors last-added-first, response interceptors
 * first-added-first. Attach authrail *before* your own request interceptors if they must
 * see the final URL and `Authorization`; response interceptors added after it see the
 * replayed response. Errors keep their usual types: HTTP errors stay `AxiosError`, an
 * abort while the token is fetched is axios' `CanceledError`, axios' `timeout` while
 * waiting for a token is an `AxiosError` with code `ECONNABORTED`; authrail's own errors
 * (`MissingScopeError`, `TokenEndpointError`) reach the caller as they are. Token
 * requests never go through this instance.
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { attachAuth } from '@authrail/axios';
 *
 * const client = axios.create({ baseURL: 'https://api.medblocks.com/fhir' });
 * const detach = attachAuth(client, medblocksClientCredentials({ baseUrl, clientId, clientSecret }));
 * const { data } = await client.get('/Patient');
 * ```
 */
export function attachAuth(instance: AxiosInstance, strategy: AuthStrategy): () => void {
  if (typeof instance?.interceptors?.request?.use !== 'function') {
    throw new ConfigError('must be an axios instance', { option: 'instance' });
  }
  if (
    typeof strategy?.authorize !== 'function' ||
    typeof strategy.isRejected !== 'function' ||
    typeof strategy.reject !== 'function'
  ) {
    throw new ConfigError('must be an AuthStrategy', { option: 'strategy' });
  }

  const requestId = instance.interceptors.request.use(async (config: WithState) => {
    const url = new URL(instance.getUri(config));
    const view = {
      method: (config.method ?? 'get').toUpperCase(),
      url: new URL(url),
      headers: headersView(config),
    };
    const signal = waitSignal(config);
    let used: AuthorizeResult;
    try {
      used = await strategy.authorize(view, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted && error === signal.reason) {
        if ((error as { name?: unknown }).name === 'TimeoutError' && !config.signal?.aborted) {
          throw new AxiosError(`timeout of ${config.timeout}ms exceeded`, AxiosError.ECONNABORTED, config);
        }
        throw new CanceledError(undefined, undefined, config);
      }
      throw error;
    }
    if (!used.applied) return config;
    if (view.url.href !== url.href) {
      // Scoping changed the query: send the final URL as it is.
      config.url = view.url.href;
      config.baseURL = undefined;
      config.params = undefined;
    }
    const headers = AxiosHeaders.from(config.headers);
    view.headers.forEach((value, name) => headers.set(name, value));
    config.headers = headers;
    config[STATE] = { used, replayCount: config[STATE]?.replayCount ?? 0 };
    return config;
  });

  const responseId = instance.interceptors.response.use(undefined, async (error: unknown) => {
    if (!(error instanceof AxiosError) || !error.response || !error.config) throw error;
    const config = error.config as WithState;
    const state = config[STATE];
    const response = error.response;
    const responseHeaders = AxiosHeaders.from(response.headers as AxiosHeaders);
    const headers = { get: (name: string) => responseHeaders.get(name)?.toString() ?? null };
    if (!state || !strategy.isRejected({ status: response.status, headers })) throw error;
    const decision = await strategy.reject(state.used, {
      method: (config.method ?? 'get').toUpperCase(),
      url: new URL(instance.getUri(config)),
      replayCount: state.replayCount,
      replayable: isStream(config.data) ? 'one-shot stream body' : true,
    });
    if (!decision.replay) throw error;
    return instance.request({
      ...config,
      [STATE]: { used: state.used, replayCount: state.replayCount + 1 },
    } as WithState);
  });

  return () => {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}
