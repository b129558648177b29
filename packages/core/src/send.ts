/**
 * Core's request loop: the one place that checks the origin before every hop, runs the
 * policies, calls the transport, reads the answer (challenges, redirects), invalidates
 * exactly the token it used, replays once, and emits the events.
 *
 * @module
 */
import { parseChallenges, type Challenge } from './challenges.js';
import { ConfigError, RedirectError } from './errors.js';
import type { EventSink, RejectedEvent, ReplayReason } from './events.js';
import { HopHeaders } from './hop-headers.js';
import type { PolicyContext, PolicyResult, RequestPolicy } from './policies/types.js';
import type { DPoPProver } from './source.js';
import type { Token } from './token.js';
import type { AuthRequest, AuthResponse, SendOptions, Transport } from './transport.js';

/** When a 401 counts as a rejected credential. */
export type RejectWhen =
  /** Any 401 (a `Bearer error="insufficient_scope"` challenge excepted). Default. */
  | 'unauthorized'
  /** Only a 401 whose challenge says `error="invalid_token"` (RFC 6750 §3.1). */
  | 'invalid-token';

/** What the loop needs from a strategy. */
export interface LoopConfig {
  /** Exact origins (scheme + host + port) that may receive credentials, each followed by `/`. */
  allowedPrefixes: readonly string[];
  /** The policies, the credential last. */
  policies: readonly RequestPolicy[];
  /** True when no policy changes a hop's URL: a hop then lends the URL it was parsed into. */
  urlUnchanged: boolean;
  rejectWhen: RejectWhen;
  sink: EventSink;
  /** Gets the token a hop carries (at once when cached); undefined when the strategy has no token source. */
  getToken: ((signal: AbortSignal | undefined) => Token | Promise<Token>) | undefined;
  /** Drops exactly this token; undefined when tokens cannot be refreshed. */
  invalidate: ((token: Token) => Promise<void>) | undefined;
  /** Origins already said to have had a request without a credential. */
  uncredentialed: Set<string>;
  /** The prover of the key the tokens are bound to (DPoP), when they are. */
  dpop: DPoPProver | undefined;
}

/** Origins remembered for the `uncredentialed` event; past this, no more are said (no unbounded growth). */
const MAX_UNCREDENTIALED_ORIGINS = 256;

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

/** A hop's request before the policies: what is sent again on a replay or after a redirect. */
interface Hop {
  method: string;
  href: string;
  /** `href` parsed: given to `next` as it is when no policy changes a hop's URL. */
  url: URL;
  headers: Headers;
  body: unknown;
  bodyIsStream: boolean;
  /** Whether this hop may carry credentials: an allowed origin, and not https → http. */
  credentialed: boolean;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** The challenge for the scheme the token was sent with (`Bearer`, `DPoP`), if the server sent one. */
function challengeFor(response: AuthResponse, tokenType: string): Challenge | undefined {
  const value = response.headers.get('www-authenticate');
  if (!value) return undefined;
  const scheme = tokenType.toLowerCase();
  return parseChallenges(value)?.find((c) => c.scheme === scheme);
}

/**
 * Whether a serialised URL is on an allowed origin: its `href` starts with the origin
 * and a `/` (an http(s) URL's href is its origin, then its path). Exact as the origin
 * itself (`https://api.example.org.evil.com/` and `:8443` do not match), and a string
 * comparison instead of the `origin` getter, which parses, on every hop.
 */
function isAllowed(config: LoopConfig, href: string): boolean {
  for (const prefix of config.allowedPrefixes) if (href.startsWith(prefix)) return true;
  return false;
}

/**
 * The URL a hop is sent on: the one it was parsed into when no policy changes URLs and it
 * still says what was checked (a caller may change its own `URL` object while a request is
 * in flight: the origin was checked on `href`, so `href` is what is sent), else a new parse.
 */
function lent(config: LoopConfig, hop: Hop): URL {
  return config.urlUnchanged && hop.url.href === hop.href ? hop.url : new URL(hop.href);
}

/** Origin and path: what events and log lines show of a URL (never its query). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function sameHeaders(a: Headers, b: Headers, except: string): string | undefined {
  for (const [name, value] of b) {
    if (name !== except && a.get(name) !== value) return name;
  }
  return undefined;
}

/** What the policies of one hop see besides the request; records the token they used. */
class HopContext implements PolicyContext {
  used: Token | undefined;
  constructor(
    private readonly getToken: LoopConfig['getToken'],
    readonly signal: AbortSignal | undefined,
    readonly dpop: DPoPProver | undefined,
  ) {}

  token(): Token | Promise<Token> {
    if (!this.getToken) throw new ConfigError('this strategy has no token source', { option: 'source' });
    const got = this.getToken(this.signal);
    if (got instanceof Promise) return got.then((token) => (this.used = token));
    return (this.used = got);
  }
}

type PolicyOutcome = Token | undefined | 'skip';

/**
 * Runs the policies on one hop. Returns the token the hop carries (undefined when no
 * policy asked for one), or `'skip'` when a policy said to send the hop untouched. When
 * every policy answers synchronously (bearer with a cached token) no promise is made.
 */
function applyPolicies(
  config: LoopConfig,
  request: AuthRequest,
  signal: AbortSignal | undefined,
): PolicyOutcome | Promise<PolicyOutcome> {
  const context = new HopContext(config.getToken, signal, config.dpop);
  const { policies } = config;
  for (let i = 0; i < policies.length; i += 1) {
    const result = policies[i]!(request, context);
    if (result instanceof Promise) return finishPolicies(policies, i, result, request, context);
    if (result === 'skip') return 'skip';
  }
  return context.used;
}

/** The rest of {@link applyPolicies} once a policy answered with a promise. */
async function finishPolicies(
  policies: readonly RequestPolicy[],
  index: number,
  pending: Promise<PolicyResult>,
  request: AuthRequest,
  context: HopContext,
): Promise<PolicyOutcome> {
  if ((await pending) === 'skip') return 'skip';
  for (let i = index + 1; i < policies.length; i += 1) {
    const result = policies[i]!(request, context);
    if ((result instanceof Promise ? await result : result) === 'skip') return 'skip';
  }
  return context.used;
}

/** The request loop behind {@link AuthStrategy.send}. */
export async function sendWithAuth<R extends AuthResponse>(
  config: LoopConfig,
  request: AuthRequest,
  next: Transport<R>,
  options: SendOptions | undefined,
): Promise<R> {
  const signal = options?.signal;
  const opaque = options?.transportFollowsRedirects === true;
  const mode = request.redirect ?? 'follow';
  const maxRedirects = options?.maxRedirects ?? MAX_REDIRECTS;
  let hop: Hop = {
    method: request.method,
    href: request.url.href,
    url: request.url,
    headers: request.headers,
    body: request.body ?? null,
    bodyIsStream: request.bodyIsStream === true && request.body != null,
    credentialed: isAllowed(config, request.url.href),
  };
  let replayed = false;
  let nonceReplayed = false;
  let redirects = 0;

  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    // Each hop gets its own headers (and its own URL when a policy may change it): what
    // the policies set never reaches the next hop, the caller's request or the client's.
    const url = lent(config, hop);
    const out: AuthRequest = {
      method: hop.method,
      url,
      headers: new HopHeaders(hop.headers),
      body: hop.body,
      bodyIsStream: hop.bodyIsStream,
      redirect: opaque ? mode : 'manual',
    };
    let used: Token | undefined;
    let carriesCredential = hop.credentialed;
    if (carriesCredential) {
      const applied = applyPolicies(config, out, signal);
      const result = applied instanceof Promise ? await applied : applied;
      if (result === 'skip') {
        out.url = lent(config, hop);
        out.headers = new HopHeaders(hop.headers);
        carriesCredential = false;
      } else used = result;
    }
    let forwarded: string | undefined;
    if (opaque && mode === 'follow' && carriesCredential) {
      // The runtime follows redirects out of sight and drops only `Authorization` on the way:
      // a request carrying any other credential must not be followed anywhere.
      forwarded = sameHeaders(hop.headers, out.headers, 'authorization');
      if (forwarded) out.redirect = 'manual';
    }

    if (!hop.credentialed) noteUncredentialed(config, url, out.method);
    const response = await next(out);
    const status = response.status;
    // RFC 9449 §8.2: a server may send a new nonce on any response; the next proof carries it.
    if (config.dpop && carriesCredential) config.dpop.cacheNonce(response, url);

    if (opaque) {
      if (forwarded && (status === 0 || REDIRECT_STATUSES.has(status))) {
        await response.discard();
        throw new RedirectError(
          `${out.method} ${shown(url)} was redirected, and the runtime would forward its ${forwarded} header to wherever it points; not followed`,
          { status },
        );
      }
    } else if (REDIRECT_STATUSES.has(status) && mode !== 'manual') {
      const location = response.headers.get('location');
      if (location !== null) {
        const target = new URL(location, url);
        if (mode === 'error') {
          await response.discard();
          throw new RedirectError(
            `${out.method} ${shown(url)} was redirected (${status}) and redirect is 'error'`,
            {
              status,
              location: shown(target),
            },
          );
        }
        const followed = follow(config, hop, url, target, status);
        if (followed) {
          redirects += 1;
          if (redirects > maxRedirects) {
            await response.discard();
            throw new RedirectError(
              `${request.method} ${shown(request.url)}: more than ${maxRedirects} redirects`,
              {
                status,
                location: shown(target),
              },
            );
          }
          await response.discard();
          hop = followed;
          continue;
        }
        config.sink.log(
          'warn',
          `authrail: ${out.method} ${shown(url)} was redirected (${status}) but its one-shot stream body cannot be sent again; returning the redirect`,
        );
      }
      return response;
    }

    if (status !== 401 && status !== 403) return response;
    // Only a credential core sent can be rejected: a 401 from anywhere else (another origin
    // reached by a redirect, a request a policy skipped) never touches the token.
    if (!carriesCredential) return response;
    if (opaque && response.url && new URL(response.url).origin !== url.origin) return response;

    const challenge = challengeFor(response, used?.tokenType ?? 'Bearer');
    const emit = (replay: boolean, reason: ReplayReason) =>
      rejected(config.sink, { method: out.method, url: shown(url), status, replay, reason }, challenge);
    if (status === 401 && used?.tokenType === 'DPoP' && challenge?.parameters.error === 'use_dpop_nonce') {
      // The token is fine; the proof lacked the nonce the server now sent (RFC 9449 §9).
      if (nonceReplayed || hop.bodyIsStream || !response.headers.get('dpop-nonce')) {
        emit(false, hop.bodyIsStream ? 'body-not-replayable' : 'already-replayed');
        return response;
      }
      emit(true, 'dpop-nonce');
      nonceReplayed = true;
      await response.discard();
      continue;
    }
    if (challenge?.parameters.error === 'insufficient_scope') {
      emit(false, 'insufficient-scope');
      return response;
    }
    if (status !== 401) return response;
    if (config.rejectWhen === 'invalid-token' && challenge?.parameters.error !== 'invalid_token')
      return response;
    if (replayed) {
      // The fresh token was rejected too: returned as it is, and kept (it is not the cause).
      emit(false, 'already-replayed');
      return response;
    }
    if (!used || !config.invalidate) {
      emit(false, 'not-refreshable');
      return response;
    }
    await config.invalidate(used);
    if (hop.bodyIsStream) {
      emit(false, 'body-not-replayable');
      return response;
    }
    emit(true, 'replaying');
    replayed = true;
    await response.discard();
  }
}

/**
 * The next hop after a redirect (fetch's rules), or undefined when it cannot be followed
 * (a one-shot body that 307/308 would have to send again).
 */
function follow(config: LoopConfig, from: Hop, url: URL, target: URL, status: number): Hop | undefined {
  let { method, body, bodyIsStream } = from;
  const headers = new HopHeaders(from.headers);
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
  if (target.origin !== url.origin) for (const name of CALLER_CREDENTIAL_HEADERS) headers.delete(name);
  const downgrade = url.protocol === 'https:' && target.protocol === 'http:';
  return {
    method,
    href: target.href,
    url: target,
    headers,
    body,
    bodyIsStream,
    credentialed: !downgrade && isAllowed(config, target.href),
  };
}

/** Says, once per origin, that a request went out without a credential, and why. */
function noteUncredentialed(config: LoopConfig, url: URL, method: string): void {
  const { origin } = url;
  if (config.uncredentialed.has(origin) || config.uncredentialed.size >= MAX_UNCREDENTIALED_ORIGINS) return;
  config.uncredentialed.add(origin);
  const reason = isAllowed(config, url.href) ? 'downgrade' : 'not-allowed';
  config.sink.log(
    'debug',
    reason === 'downgrade'
      ? `authrail: ${method} ${shown(url)} was reached from https: by a redirect to http:; sent without a credential (said once per origin)`
      : `authrail: ${origin} is not in origins; requests to it are sent without a credential (said once per origin)`,
  );
  config.sink.emit('uncredentialed', { origin, method, url: shown(url), reason });
}

function rejected(sink: EventSink, event: RejectedEvent, challenge: Challenge | undefined): void {
  const full: RejectedEvent = {
    ...event,
    ...(challenge?.parameters.error ? { error: challenge.parameters.error } : {}),
    ...(challenge?.parameters.scope ? { scope: challenge.parameters.scope } : {}),
  };
  sink.emit('rejected', full);
  const why: Record<ReplayReason, string> = {
    replaying: 'replaying once with a fresh token',
    'already-replayed': 'not replayed: the replay was rejected too',
    'body-not-replayable': 'not replayed: its one-shot stream body cannot be sent again',
    'not-refreshable': 'not replayed: this credential cannot be refreshed',
    'insufficient-scope': `not replayed: the token lacks scope${full.scope ? ` "${full.scope}"` : ''}`,
    'dpop-nonce': 'sending once more with the DPoP nonce the server asked for',
  };
  sink.log(
    event.replay ? 'info' : 'warn',
    `authrail: ${event.method} ${event.url} was rejected (${event.status}${full.error ? ` ${full.error}` : ''}); ${why[event.reason]}`,
  );
}
