/**
 * What the steps of core's request loop share: the strategy's settings ({@link LoopConfig})
 * and, per call of `send`, the {@link Call} the steps of that call work on.
 *
 * @module
 */
import { parseChallenges, type Challenge } from '../challenges.js';
import type { EventSink, RejectedEvent, ReplayReason } from '../events.js';
import type { RequestPolicy } from '../policies/types.js';
import type { DPoPProver } from '../source.js';
import type { Token } from '../token.js';
import type { AuthRequest, AuthResponse } from '../transport.js';

/** When a 401 counts as a rejected credential. */
export type RejectWhen =
  /** Any 401 (a `Bearer error="insufficient_scope"` challenge excepted). Default. */
  | 'unauthorized'
  /** Only a 401 whose challenge says `error="invalid_token"` (RFC 6750 §3.1). */
  | 'invalid-token';

/** A strategy's settings, as its loop reads them. */
export interface LoopConfig {
  /** Exact origins (scheme + host + port) that may receive credentials, each followed by `/`. */
  allowedPrefixes: readonly string[];
  /** The policies, the credential last. */
  policies: readonly RequestPolicy[];
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

/** One call of `send`: the caller's signal, and what one step tells the next about the hop in flight. */
export interface Call {
  readonly config: LoopConfig;
  readonly signal: AbortSignal | undefined;
  /** The next hop was reached from https: by a redirect to http: (it gets no credential). */
  downgraded: boolean;
  /** The token the hop in flight carries, if any (the DPoP step proves with it). */
  used: Token | undefined;
}

/** Sends a request onward: the next step, or in the end the transport. */
export type Next<R extends AuthResponse = AuthResponse> = (request: AuthRequest) => Promise<R>;

/**
 * One step of the loop, in the shape of Azure core-rest-pipeline's policies and undici's
 * interceptors: does its part for a request and calls `next` for the rest, as often as
 * its part needs.
 */
export type Step = <R extends AuthResponse>(request: AuthRequest, next: Next<R>) => Promise<R>;

/** Runs `request` through `steps` in order, the transport last. */
export function compose<R extends AuthResponse>(steps: readonly Step[], transport: Next<R>): Next<R> {
  return steps.reduceRight<Next<R>>((next, step) => (request) => step(request, next), transport);
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Origin and path: what events and log lines show of a URL (never its query). */
export function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Whether a URL is on an allowed origin: its `href` starts with the origin and a `/` (an
 * http(s) URL's href is its origin, then its path). Exact as the origin itself
 * (`https://api.example.org.evil.com/` and `:8443` do not match).
 */
export function isAllowed(config: LoopConfig, href: string): boolean {
  for (const prefix of config.allowedPrefixes) if (href.startsWith(prefix)) return true;
  return false;
}

/** The challenge for the scheme the token was sent with (`Bearer`, `DPoP`), if the server sent one. */
export function challengeFor(response: AuthResponse, tokenType: string): Challenge | undefined {
  const value = response.headers.get('www-authenticate');
  if (!value) return undefined;
  const scheme = tokenType.toLowerCase();
  return parseChallenges(value)?.find((c) => c.scheme === scheme);
}

/**
 * A copy of a request for one hop, on `href`: its own URL and headers, so what a step
 * changes stays in the hop (never the caller's request, the next hop or the client's).
 */
export function hopOf(request: AuthRequest, href: string): AuthRequest {
  return { ...request, url: new URL(href), headers: new Headers(request.headers) };
}

/** Says that a credentialed hop was rejected, and what core does about it. */
export function rejected(
  sink: EventSink,
  event: Omit<RejectedEvent, 'error' | 'scope'>,
  challenge: Challenge | undefined,
): void {
  const full: RejectedEvent = {
    ...event,
    ...(challenge?.parameters.error ? { error: challenge.parameters.error } : {}),
    ...(challenge?.parameters.scope ? { scope: challenge.parameters.scope } : {}),
  };
  sink.emit('rejected', full);
  const why: Record<ReplayReason, string> = {
    replaying: 'replaying once with a fresh token',
    'already-replayed': 'not replayed: the replay was rejected too',
    'body-not-replayable': 'not replayed: its body is a stream that can be read once',
    'not-refreshable': 'not replayed: this credential cannot be refreshed',
    'insufficient-scope': `not replayed: the token lacks scope${full.scope ? ` "${full.scope}"` : ''}`,
    'dpop-nonce': 'sending once more with the DPoP nonce the server asked for',
  };
  sink.log(
    event.replay ? 'info' : 'warn',
    `authrail: ${event.method} ${event.url} was rejected (${event.status}${full.error ? ` ${full.error}` : ''}); ${why[event.reason]}`,
  );
}
