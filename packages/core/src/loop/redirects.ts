/**
 * The step that follows redirects hop by hop (fetch's rules), for transports that show
 * them: each hop goes on through the rest of the loop, so its origin is checked again
 * before it carries anything.
 *
 * @module
 */
import { RedirectError } from '../errors.js';
import type { AuthRequest, AuthResponse } from '../transport.js';
import { shown, type Call, type Next, type Step } from './call.js';

/** At most this many redirects per call unless the client says otherwise, as fetch allows. */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that describe a body, dropped with it when a redirect turns the request into a GET (fetch). */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];
/** The caller's own credentials, which every client drops on a cross-origin redirect. */
const CALLER_CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** Whether a response is a redirect this step follows. */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/**
 * The next hop after a redirect, or undefined when it cannot be followed: a stream body
 * that 307/308 would have to send again.
 */
function follow(from: AuthRequest, target: URL, status: number): AuthRequest | undefined {
  let { method, body, bodyIsStream } = from;
  const headers = new Headers(from.headers);
  if (
    (status === 303 && method !== 'GET' && method !== 'HEAD') ||
    ((status === 301 || status === 302) && method === 'POST')
  ) {
    method = 'GET';
    body = null;
    bodyIsStream = false;
    for (const name of BODY_HEADERS) headers.delete(name);
  } else if (bodyIsStream) {
    return undefined;
  }
  if (target.origin !== from.url.origin) for (const name of CALLER_CREDENTIAL_HEADERS) headers.delete(name);
  return { ...from, method, url: target, headers, body, bodyIsStream };
}

/**
 * Follows redirects hop by hop: 303 → GET, 301/302 POST → GET, 307/308 the same method
 * and bytes; at most `maxRedirects`; the caller's `redirect: 'manual'` returns the 3xx
 * and `'error'` throws a `RedirectError`. Every hop is sent with `redirect: 'manual'`.
 */
export function followRedirects(call: Call, maxRedirects = MAX_REDIRECTS): Step {
  return (request, next) => {
    const mode = request.redirect ?? 'follow';
    const hop: AuthRequest = { ...request, redirect: 'manual' };
    // Not async itself: a response that is no redirect to follow (nearly all) costs one `then`.
    return next(hop).then((response) =>
      mode === 'manual' || locationOf(response) === null
        ? response
        : redirected(call, request, hop, response, next, maxRedirects),
    );
  };
}

function locationOf(response: AuthResponse): string | null {
  return isRedirect(response.status) ? response.headers.get('location') : null;
}

/** Follows the redirect `response` answered `hop` with, and the ones after it. */
async function redirected<R extends AuthResponse>(
  call: Call,
  request: AuthRequest,
  hop: AuthRequest,
  response: R,
  next: Next<R>,
  maxRedirects: number,
): Promise<R> {
  for (let redirects = 1; ; redirects += 1) {
    const target = new URL(locationOf(response)!, hop.url);
    if (request.redirect === 'error') {
      await response.discard();
      throw new RedirectError(
        `${hop.method} ${shown(hop.url)} was redirected (${response.status}) and redirect is 'error'`,
        { status: response.status, location: shown(target) },
      );
    }
    const followed = follow(hop, target, response.status);
    if (!followed) {
      call.config.sink.log(
        'warn',
        `authrail: ${hop.method} ${shown(hop.url)} was redirected (${response.status}) but its body is a stream that can be read once; returning the redirect`,
      );
      return response;
    }
    await response.discard();
    if (redirects > maxRedirects)
      throw new RedirectError(
        `${request.method} ${shown(request.url)}: more than ${maxRedirects} redirects`,
        {
          status: response.status,
          location: shown(target),
        },
      );
    call.downgraded = hop.url.protocol === 'https:' && target.protocol === 'http:';
    hop = followed;
    response = await next(hop);
    if (locationOf(response) === null) return response;
  }
}
