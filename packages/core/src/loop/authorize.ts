/**
 * The step that authorizes a hop: only a hop to an allowed origin gets the policies and
 * the credential, and only if it is still on an allowed origin after them; a rejected
 * credential is dropped and the hop replayed once with a fresh one.
 *
 * @module
 */
import type { Challenge } from '../challenges.js';
import { AuthrailError, ErrorCodes, NotAuthenticatedError, RedirectError } from '../errors.js';
import type { ReplayReason } from '../events.js';
import type { PolicyContext, PolicyResult, RequestPolicy } from '../policies/types.js';
import type { DPoPProver } from '../source.js';
import type { Token } from '../token.js';
import type { AuthRequest, AuthResponse } from '../transport.js';
import { isRedirect } from './redirects.js';
import {
  abortReason,
  challengeFor,
  hopOf,
  isAllowed,
  rejected,
  shown,
  type Call,
  type LoopConfig,
  type Next,
  type Step,
} from './call.js';

/** Origins remembered for the `uncredentialed` event; past this, no more are said (no unbounded growth). */
export const MAX_UNCREDENTIALED_ORIGINS = 256;

/** What the policies of one hop see besides the request; records the token they used. */
class HopContext implements PolicyContext {
  used: Token | undefined;
  constructor(
    private readonly getToken: LoopConfig['getToken'],
    readonly signal: AbortSignal | undefined,
    readonly dpop: DPoPProver | undefined,
  ) {}

  token(): Token | Promise<Token> {
    if (!this.getToken)
      throw new NotAuthenticatedError(
        'a policy asked for a token, and this strategy has none (it sends a fixed key)',
      );
    const got = this.getToken(this.signal);
    if (got instanceof Promise) return got.then((token) => (this.used = token));
    return (this.used = got);
  }
}

type PolicyOutcome = Token | undefined | 'skip';

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

/**
 * Runs the policies on one hop. Returns the token the hop carries (undefined when no
 * policy asked for one), or `'skip'` when a policy said to send the hop untouched. When
 * every policy answers at once (bearer with a cached token) no promise is made.
 */
function applyPolicies(call: Call, request: AuthRequest): PolicyOutcome | Promise<PolicyOutcome> {
  const { config } = call;
  const context = new HopContext(config.getToken, call.signal, config.dpop);
  const { policies } = config;
  for (let i = 0; i < policies.length; i += 1) {
    const result = policies[i]!(request, context);
    if (result instanceof Promise) return finishPolicies(policies, i, result, request, context);
    if (result === 'skip') return 'skip';
  }
  return context.used;
}

/** Says, once per origin, that a request went out without a credential, and why. */
function noteUncredentialed(call: Call, url: URL, method: string): void {
  const { config } = call;
  const { origin } = url;
  if (config.uncredentialed.has(origin) || config.uncredentialed.size >= MAX_UNCREDENTIALED_ORIGINS) return;
  config.uncredentialed.add(origin);
  const reason = isAllowed(config, url.href) ? 'downgrade' : 'not-allowed';
  config.sink.notice(
    reason === 'downgrade'
      ? `authrail: ${method} ${shown(url)} went without a credential: it was reached from https: by a redirect to http: (said once per origin; logger: false silences this)`
      : `authrail: ${method} ${shown(url)} went without a credential: ${origin} is not in origins (add it to origins to send one there; said once per origin; logger: false silences this)`,
  );
  config.sink.emit('uncredentialed', { origin, method, url: shown(url), reason });
}

/** A header the policies set or changed that the runtime would forward on a redirect (all but `Authorization`). */
function forwardedHeader(before: Headers, after: Headers): string | undefined {
  for (const [name, value] of after) if (name !== 'authorization' && before.get(name) !== value) return name;
  return undefined;
}

/**
 * How to answer a rejected hop: undefined to return the response as it is, or the reason
 * and whether to replay. Only a 401 can be a rejected credential; `insufficient_scope` is
 * said, never replayed; a DPoP nonce is the DPoP step's.
 */
function verdict(
  call: Call,
  response: AuthResponse,
  out: AuthRequest,
  used: Token | undefined,
  replayed: boolean,
): { reason: ReplayReason; challenge: Challenge | undefined } | undefined {
  const { status } = response;
  if (status !== 401 && status !== 403) return undefined;
  // A 401 from another origin (one the runtime was redirected to) never touches the token.
  if (response.url && new URL(response.url).origin !== out.url.origin) return undefined;
  const challenge = challengeFor(response, used?.tokenType ?? 'Bearer');
  const error = challenge?.parameters.error;
  if (error === 'insufficient_scope') return { reason: 'insufficient-scope', challenge };
  if (status !== 401 || (used?.tokenType === 'DPoP' && error === 'use_dpop_nonce')) return undefined;
  if (call.config.rejectWhen === 'invalid-token' && error !== 'invalid_token') return undefined;
  if (replayed) return { reason: 'already-replayed', challenge };
  if (!used || !call.config.invalidate) return { reason: 'not-refreshable', challenge };
  return { reason: out.bodyIsStream ? 'body-not-replayable' : 'replaying', challenge };
}

/** A redirect of a hop the runtime would have forwarded a credential with: refused. */
async function refuseRedirect<R extends AuthResponse>(
  out: AuthRequest,
  response: R,
  forwarded: string,
): Promise<R> {
  await response.discard();
  throw new RedirectError(
    `${out.method} ${shown(out.url)} was redirected, and the runtime would forward its ${forwarded} header to wherever it points; not followed`,
    { status: response.status },
  );
}

/** The authorize step of one call: its attempts, and whether it has replayed yet. */
class Authorizer {
  #replayed = false;
  readonly #call: Call;
  readonly #transportFollowsRedirects: boolean;

  constructor(call: Call, transportFollowsRedirects: boolean) {
    this.#call = call;
    this.#transportFollowsRedirects = transportFollowsRedirects;
  }

  /** One attempt at `href`: authorized if its origin is allowed, sent, and answered. */
  attempt<R extends AuthResponse>(request: AuthRequest, href: string, next: Next<R>): Promise<R> {
    const call = this.#call;
    try {
      if (call.signal?.aborted) throw abortReason(call.signal);
      call.used = undefined;
      const out = hopOf(request, href);
      if (call.downgraded || !isAllowed(call.config, href)) {
        noteUncredentialed(call, out.url, out.method);
        return next(out);
      }
      const applied = applyPolicies(call, out);
      return applied instanceof Promise
        ? applied.then((used) => this.#send(request, href, out, used, next))
        : this.#send(request, href, out, applied, next);
    } catch (error) {
      // Not an async function (an await costs on every request): what a policy or the
      // transport throws at once is a rejection all the same.
      return Promise.reject(error);
    }
  }

  /** Sends a hop the policies ran on, if it is still on an allowed origin; answers a rejection. */
  #send<R extends AuthResponse>(
    request: AuthRequest,
    href: string,
    out: AuthRequest,
    used: PolicyOutcome,
    next: Next<R>,
  ): Promise<R> {
    if (used === 'skip') return next(hopOf(request, href));
    const call = this.#call;
    if (!isAllowed(call.config, out.url.href))
      throw new AuthrailError(
        ErrorCodes.ORIGIN_NOT_ALLOWED,
        `a policy moved ${out.method} ${shown(request.url)} to ${out.url.origin}, which is not in origins; not sent`,
      );
    call.used = used;
    const forwarded =
      this.#transportFollowsRedirects && out.redirect === 'follow'
        ? forwardedHeader(request.headers, out.headers)
        : undefined;
    if (forwarded) out.redirect = 'manual';
    // Not async itself: an accepted hop (nearly all) costs one `then`.
    return next(out).then((response) => {
      if (forwarded && (response.status === 0 || isRedirect(response.status)))
        return refuseRedirect(out, response, forwarded);
      const answer = verdict(call, response, out, used, this.#replayed);
      return answer ? this.#answer(request, href, out, response, used, answer, next) : response;
    });
  }

  /** Says a hop was rejected; drops exactly the token it used and replays it once, if it can. */
  async #answer<R extends AuthResponse>(
    request: AuthRequest,
    href: string,
    out: AuthRequest,
    response: R,
    used: Token | undefined,
    { reason, challenge }: { reason: ReplayReason; challenge: Challenge | undefined },
    next: Next<R>,
  ): Promise<R> {
    const { config } = this.#call;
    // Exactly the token this hop used: a newer one another request fetched stays.
    if (reason === 'replaying' || reason === 'body-not-replayable') await config.invalidate!(used!);
    const replay = reason === 'replaying';
    rejected(
      config.sink,
      { method: out.method, url: shown(out.url), status: response.status, replay, reason },
      challenge,
    );
    if (!replay) return response;
    this.#replayed = true;
    await response.discard();
    return this.attempt(request, href, next);
  }
}

/**
 * Authorizes each hop to an allowed origin (not reached by an https → http redirect):
 * runs the policies and sets the credential on the hop's own copy, checks that the copy
 * is still on an allowed origin, sends it, and on a rejected credential invalidates
 * exactly the token the hop used and replays it once (not a stream body). Hops elsewhere
 * are sent untouched. With `transportFollowsRedirects`, a hop carrying a credential the runtime
 * would forward on a redirect is not let to be redirected.
 */
export function authorize(call: Call, transportFollowsRedirects = false): Step {
  const authorizer = new Authorizer(call, transportFollowsRedirects);
  // The URL as it is now: a caller that changes its own URL object meanwhile cannot move a replay.
  return (request, next) => authorizer.attempt(request, request.url.href, next);
}
