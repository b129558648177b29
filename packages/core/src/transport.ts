/**
 * The neutral request and response that core's request loop and every adapter share,
 * and the {@link Transport} an adapter hands to {@link AuthStrategy.send}.
 *
 * @module
 */
import { REDACTED } from './errors.js';

/** Fetch's redirect modes, which every adapter maps its client's options onto. */
export type RedirectMode = 'follow' | 'manual' | 'error';

/**
 * An outgoing request as core sees it. An adapter builds one per call from its client's
 * request and gives it to {@link AuthStrategy.send}, which never changes it; `next` gets
 * one of its own per hop and attempt.
 * Policies see the hop's request and may change its `url` (query) and `headers`.
 *
 * @example
 * ```ts
 * const request: AuthRequest = {
 *   method: 'PUT',
 *   url: new URL('https://ctrp.example.org/accrual-services/trials/nci/NCI-2024-00001/sites/po/123'),
 *   headers: new Headers({ 'Content-Type': 'application/xml' }),
 *   body: '<accrual>…</accrual>',
 * };
 * ```
 */
export interface AuthRequest {
  /** Upper-case HTTP method. */
  method: string;
  /**
   * The full URL; policies may change its query (scoping). Core never changes this
   * object: each hop and attempt gets a copy of its own, which a transport reads and
   * never changes.
   */
  url: URL;
  /**
   * The request headers; policies set credentials here. Core never changes these: each
   * hop and attempt gets a copy of its own, which a transport sends as it is.
   */
  headers: Headers;
  /**
   * The body as the transport sends it, or `null` for none. Core never reads it: it
   * gives the same value to `next` again for a replay and for a 307/308 hop, so it must
   * be sendable more than once (a string, bytes, a `Blob`, `FormData`,
   * `URLSearchParams`, or the client's own buffered copy) unless {@link bodyIsStream}.
   * Absent means `null`.
   */
  body?: unknown;
  /**
   * True when `body` is a stream that can be read once: it is sent once and never
   * buffered, replayed or re-sent on a redirect.
   */
  bodyIsStream?: boolean;
  /**
   * The caller's redirect mode. Default `'follow'`: core follows redirects hop by hop.
   * The request core gives `next` says how to send that one hop: `'manual'` means
   * "return a 3xx as it is, do not follow it".
   */
  redirect?: RedirectMode;
}

/**
 * The answer to one hop, as a transport reports it: what core reads (status, headers,
 * where it came from) and a way to let it go. An adapter adds its client's own response
 * (or error) as further fields and gets the same object back from `send`.
 *
 * @example
 * ```ts
 * const hop = { status: res.status, headers: res.headers, url: res.url, discard: () => res.body?.cancel(), response: res };
 * ```
 */
export interface AuthResponse {
  /** HTTP status; `0` for a browser's opaque redirect. */
  readonly status: number;
  /** Response headers; only `get` is used (`WWW-Authenticate`, `Location`). */
  readonly headers: {
    /** The header's value, or null. */
    get(name: string): string | null;
  };
  /**
   * The URL that answered, when the transport knows it (after redirects the runtime
   * followed on its own). Empty or absent: the URL the hop was sent to.
   */
  readonly url?: string;
  /** Releases a response core does not return (a 401 before its replay, a 3xx it follows). */
  discard(): void | Promise<void>;
}

/**
 * Sends one hop with the user's HTTP client, exactly as given: no credential of its own,
 * no retry, and no redirect followed when `request.redirect` is `'manual'`. The adapter
 * builds it; {@link AuthStrategy.send} calls it once per hop and attempt.
 */
export type Transport<R extends AuthResponse = AuthResponse> = (request: AuthRequest) => Promise<R>;

/** Options of {@link AuthStrategy.send}. */
export interface SendOptions {
  /** The caller's signal: ends the wait for a token and the loop between hops. */
  signal?: AbortSignal;
  /**
   * True when the transport cannot return a 3xx because the runtime follows redirects
   * out of sight (browser `fetch` and XHR). Core then sends the caller's redirect mode,
   * except that a request carrying a credential the runtime would forward to any origin
   * (a header other than `Authorization`) is sent with `'manual'`, and a redirect of it
   * is refused with a `RedirectError`. Default false: core follows redirects itself.
   */
  transportFollowsRedirects?: boolean;
  /** Redirects followed at most before a `RedirectError`. Default 20, as fetch. */
  maxRedirects?: number;
}

/**
 * Whether a body can be read only once — a web `ReadableStream`, a Node `Readable` (or
 * anything else with `pipe`), an async iterable — so it is sent once and never replayed:
 * what an adapter sets {@link AuthRequest.bodyIsStream} from.
 *
 * @example
 * ```ts
 * const request: AuthRequest = { method: 'POST', url, headers, body, bodyIsStream: isStreamBody(body) };
 * ```
 */
export function isStreamBody(body: unknown): boolean {
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true;
  const candidate = body as { pipe?: unknown; [Symbol.asyncIterator]?: unknown } | null | undefined;
  return typeof candidate?.pipe === 'function' || typeof candidate?.[Symbol.asyncIterator] === 'function';
}

/**
 * Whether this runtime's HTTP clients follow redirects out of sight: browser pages and
 * workers (there is a `document` or `importScripts`), whose fetch and XHR never show a
 * 3xx. Servers, Bun, Deno and edge workers show them. What an adapter of such a client
 * sets {@link SendOptions.transportFollowsRedirects} from.
 */
export function runtimeFollowsRedirects(): boolean {
  const scope = globalThis as { document?: unknown; importScripts?: unknown };
  return typeof scope.document === 'object' || typeof scope.importScripts === 'function';
}

/**
 * Where a hop went, as an adapter may show it in its client's errors and responses: the
 * origin, the path, and the query with every value the caller did not ask for (one a
 * policy set, such as an API key) as `[redacted]`.
 *
 * @param sent - the URL the hop was sent to
 * @param askedQuery - the query the caller asked for (a URL's `search`: `?a=1`, or `''`)
 * @example
 * ```ts
 * withoutAddedQuery(new URL('https://api.example.org/x?a=1&key=s3cr3t'), '?a=1');
 * // 'https://api.example.org/x?a=1&key=[redacted]'
 * ```
 */
export function withoutAddedQuery(sent: URL, askedQuery: string): string {
  const { origin, pathname, search } = sent;
  if (search === askedQuery || !search) return `${origin}${pathname}${search}`;
  const asked = new URLSearchParams(askedQuery);
  const params = new URLSearchParams(search);
  for (const [name, value] of [...params]) if (asked.get(name) !== value) params.set(name, REDACTED);
  return `${origin}${pathname}?${params}`.replaceAll(encodeURIComponent(REDACTED), REDACTED);
}
