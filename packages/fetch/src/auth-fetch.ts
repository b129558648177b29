import { ConfigError, type AuthStrategy } from '@authrail/core';

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
  /** The `fetch` to send with. Default: the global `fetch`, looked up on each call. */
  fetch?: typeof fetch;
  /**
   * Says whether a `Request` input carries a one-shot body that must be neither
   * buffered nor replayed. A `ReadableStream` given as `init.body` is always one-shot;
   * wrappers that turn a caller's stream into a `Request` (as ky does) use this to say so.
   */
  isOneShot?: (request: Request) => boolean;
}

function isStream(body: unknown): boolean {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
}

/** The parts of a Request that a new Request must keep (everything but url, headers and body). */
function requestInit(request: Request): RequestInit {
  return {
    method: request.method,
    signal: request.signal,
    redirect: request.redirect,
    credentials: request.credentials,
    cache: request.cache,
    integrity: request.integrity,
    keepalive: request.keepalive,
    referrerPolicy: request.referrerPolicy,
    ...(request.mode === 'navigate' ? {} : { mode: request.mode }),
  };
}

/**
 * Wraps `fetch` so that every request to an allowed origin carries a valid credential,
 * and a rejected one (401) is replayed once with a fresh token: same method, headers
 * and body, byte for byte. A `ReadableStream` body is one-shot: it is sent once and a
 * 401 is returned as it is, with the reason in the `rejected` event. Requests to other
 * origins are sent untouched. The result has `fetch`'s signature and works in Node and
 * browsers.
 *
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
  if (
    typeof strategy?.authorize !== 'function' ||
    typeof strategy.isRejected !== 'function' ||
    typeof strategy.reject !== 'function'
  ) {
    throw new ConfigError('must be an AuthStrategy (authorize, isRejected, reject)', { option: 'strategy' });
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new ConfigError('must be a fetch function', { option: 'fetch' });
  }
  const authFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Read at call time, so test doubles and polyfills installed later are honoured;
    // called as a plain function, never as a method (browsers reject a foreign `this`).
    const send = options.fetch ?? globalThis.fetch;
    const oneShot =
      isStream(init?.body) ||
      (input instanceof Request && input.body !== null && options.isOneShot?.(input) === true);
    // A Request input is cloned so the caller's own object stays usable.
    // Options a Request does not carry (undici's `dispatcher` for proxies, and the like)
    // are passed along to every send; the Request carries the rest.
    const { body: _body, headers: _headers, method: _method, signal: _signal, ...passAlong } = init ?? {};
    const template = new Request(
      input instanceof Request ? input.clone() : input,
      oneShot ? ({ ...init, duplex: 'half' } as RequestInit) : init,
    );
    let body: ArrayBuffer | ReadableStream<Uint8Array> | null | undefined;
    for (let replayCount = 0; ; replayCount += 1) {
      const view = {
        method: template.method,
        url: new URL(template.url),
        headers: new Headers(template.headers),
      };
      const used = await strategy.authorize(view, { signal: template.signal });
      if (!used.applied) return send(template, passAlong);
      // Buffered once, so the replay sends the same bytes (FormData keeps its boundary in
      // the copied Content-Type). A stream is passed through and cannot be replayed.
      if (body === undefined)
        body = oneShot ? template.body : template.body ? await template.clone().arrayBuffer() : null;
      const outgoing = new Request(view.url, {
        ...requestInit(template),
        headers: view.headers,
        body,
        ...(oneShot ? { duplex: 'half' } : {}),
      } as RequestInit);
      const response = await send(outgoing, passAlong);
      if (!strategy.isRejected(response)) return response;
      const decision = await strategy.reject(used, {
        method: view.method,
        url: view.url,
        replayCount,
        replayable: oneShot ? 'one-shot stream body' : true,
      });
      if (!decision.replay) return response;
      await response.body?.cancel().catch(() => undefined);
    }
  };
  return authFetch as typeof fetch;
}
