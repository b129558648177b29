/**
 * The attempts of one token request: each under its own deadline, transient failures
 * retried with backoff (or as long as `Retry-After` says), and a refused refresh token
 * answered by the primary grant once.
 *
 * @module
 */
import { ErrorCodes, isTokenEndpointError, toTokenEndpointError, type TokenEndpointError } from './errors.js';
import type { EventSink } from './events.js';
import type { Flight } from './flight.js';
import { checkKnown, nonNegative, MAX_TIMER_MS } from './options.js';
import type { TokenSource } from './source.js';
import type { Token } from './token.js';

/**
 * Retries of failed token requests. Only transient failures are retried: network
 * errors, timeouts, 429 (waiting as long as `Retry-After` says) and 5xx. Other 4xx
 * (such as `invalid_client`) fail at once. Delays grow exponentially with full jitter.
 */
export interface RetryOptions {
  /** Attempts per token request, including the first. Default 3. */
  maxAttempts?: number;
  /** First backoff delay. Default 250 ms. */
  baseDelayMs?: number;
  /** Largest backoff delay. Default 10 000 ms. */
  maxDelayMs?: number;
  /** A `Retry-After` longer than this fails at once instead of waiting. Default 60 000 ms. */
  maxRetryAfterMs?: number;
  /**
   * Each attempt ends after this long and counts as a timeout, whether or not the
   * transport answers its abort: the one timeout of a token request. Default 30 000 ms.
   */
  attemptTimeoutMs?: number;
  /**
   * After the token endpoint refuses the client (`invalid_client`, `unauthorized_client`,
   * `invalid_scope` and other 4xx but 429), it is not asked again for this long, doubling
   * with each refusal in a row up to 5 minutes; calls meanwhile fail at once with the same
   * error, which says until when. Okta allows 300–2,000 token calls a minute per org.
   * `0` turns it off. Default 5 000 ms.
   */
  failureCooldownMs?: number;
}

const DEFAULT_RETRY = {
  /** Attempts per token request, including the first. */
  maxAttempts: 3,
  /** First backoff delay, ms. */
  baseDelayMs: 250,
  /** Largest backoff delay, ms. */
  maxDelayMs: 10_000,
  /** Longest `Retry-After` honoured, ms. */
  maxRetryAfterMs: 60_000,
  /** Per-attempt timeout, ms. */
  attemptTimeoutMs: 30_000,
  /** First cooldown after the token endpoint refuses the client, ms. */
  failureCooldownMs: 5_000,
} as const;

/**
 * The bound of one primary-grant attempt of an interactive source (a person approves a
 * device sign-in): one hour, longer than device codes live (RFC 8628's example: 30 minutes).
 */
const INTERACTIVE_ATTEMPT_TIMEOUT_MS = 3_600_000;

/** The longest cooldown after repeated refusals of the client: 5 minutes. */
export const MAX_FAILURE_COOLDOWN_MS = 300_000;

/** Checks the `retry` options group, naming the option that is wrong. */
export function resolveRetryOptions(retry: RetryOptions | undefined): Required<RetryOptions> {
  checkKnown(retry, 'retry', Object.keys(DEFAULT_RETRY));
  const d = DEFAULT_RETRY;
  return {
    maxAttempts: nonNegative(retry?.maxAttempts, 'retry.maxAttempts', d.maxAttempts, {
      integer: true,
      min: 1,
    }),
    baseDelayMs: nonNegative(retry?.baseDelayMs, 'retry.baseDelayMs', d.baseDelayMs),
    maxDelayMs: nonNegative(retry?.maxDelayMs, 'retry.maxDelayMs', d.maxDelayMs),
    maxRetryAfterMs: nonNegative(retry?.maxRetryAfterMs, 'retry.maxRetryAfterMs', d.maxRetryAfterMs),
    attemptTimeoutMs: nonNegative(retry?.attemptTimeoutMs, 'retry.attemptTimeoutMs', d.attemptTimeoutMs, {
      min: 1,
      max: MAX_TIMER_MS,
    }),
    failureCooldownMs: nonNegative(retry?.failureCooldownMs, 'retry.failureCooldownMs', d.failureCooldownMs, {
      max: MAX_FAILURE_COOLDOWN_MS,
    }),
  };
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, base * 2^(attempt-1))].
 * A server's `Retry-After` wins when it is given.
 *
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelay(attempt: number, retry: Required<RetryOptions>, random: () => number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** What the attempts of a token request need. */
export interface AttemptSettings {
  source: TokenSource;
  retry: Required<RetryOptions>;
  random: () => number;
  /** The clock tokens are stamped with. */
  now: () => number;
  sink: EventSink;
  /** The token endpoint, as messages show it. */
  endpoint: string;
}

/** A token request's result: the token, how many attempts it took, and which grant gave it. */
export interface Fetched {
  token: Token;
  attempts: number;
  grant: 'primary' | 'refresh_token';
}

/**
 * One attempt, ended by its own deadline whether or not the source settles: a transport
 * that never answers its abort (undici decoding a stalled gzip body) must not hold the
 * flight, and every later caller with it, for good.
 */
async function attempt(
  settings: AttemptSettings,
  refreshToken: string | undefined,
  flight: Flight,
): Promise<Token> {
  const controller = new AbortController();
  const endAttempt = () => controller.abort(flight.signal.reason);
  flight.signal.addEventListener('abort', endAttempt, { once: true });
  // A person approving a sign-in takes minutes: the source's own deadline governs, this bounds it.
  const attemptTimeoutMs = asksUser(settings, refreshToken)
    ? INTERACTIVE_ATTEMPT_TIMEOUT_MS
    : settings.retry.attemptTimeoutMs;
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const deadline = new Promise<never>((_resolve, reject) => {
    deadlineTimer = flight.timer(attemptTimeoutMs, () => {
      timedOut = true;
      const reason = new DOMException(`no answer within ${attemptTimeoutMs} ms`, 'TimeoutError');
      controller.abort(reason);
      reject(reason);
    });
  });
  try {
    const fetching = settings.source.fetchToken({
      signal: controller.signal,
      now: settings.now,
      ...(refreshToken === undefined ? {} : { refreshToken }),
    });
    fetching.catch(() => undefined); // it may settle after the deadline: nobody waits then
    return await Promise.race([fetching, deadline, flight.abandoned()]);
  } catch (raw) {
    if (flight.signal.aborted) throw flight.signal.reason;
    throw toTokenEndpointError(raw, { endpoint: settings.endpoint, timedOut });
  } finally {
    // The attempt is over: its deadline must not outlive it (nor be counted while we back off).
    if (deadlineTimer) flight.clearTimer(deadlineTimer);
    flight.signal.removeEventListener('abort', endAttempt);
  }
}

/** Whether this attempt runs a grant that asks a person (an interactive source's primary grant). */
function asksUser(settings: AttemptSettings, refreshToken: string | undefined): boolean {
  return refreshToken === undefined && settings.source.interactive === true;
}

/** The wait before the next attempt after `error`, or undefined when it must not be retried. */
function delayBefore(
  settings: AttemptSettings,
  error: TokenEndpointError | Error,
  attempts: number,
  refreshToken: string | undefined,
): number | undefined {
  const { retry } = settings;
  if (!isTokenEndpointError(error) || !error.retryable || attempts >= retry.maxAttempts) return undefined;
  // Another attempt would show the user a new code: a failed sign-in is for them to start again.
  if (asksUser(settings, refreshToken)) return undefined;
  const retryAfter = error.retryAfterMs;
  if (retryAfter !== undefined && retryAfter > retry.maxRetryAfterMs) return undefined;
  return retryAfter ?? backoffDelay(attempts, retry, settings.random);
}

/**
 * Runs the attempts of one token request for `flight`: with the refresh token of
 * `previous` when it has one (refused: the primary grant, once, not counted as an
 * attempt), retrying transient failures up to `retry.maxAttempts`.
 */
export async function runAttempts(
  settings: AttemptSettings,
  previous: Token | undefined,
  flight: Flight,
): Promise<Fetched> {
  let refreshToken = previous?.refreshToken;
  for (let attempts = 1; ; attempts += 1) {
    try {
      const token = await attempt(settings, refreshToken, flight);
      return { token, attempts, grant: refreshToken === undefined ? 'primary' : 'refresh_token' };
    } catch (error) {
      if (flight.signal.aborted) throw error;
      const typed = error as TokenEndpointError;
      if (refreshToken !== undefined && !typed.retryable && typed.code === ErrorCodes.TOKEN_ENDPOINT_ERROR) {
        // The refresh token was refused (expired, revoked, rotated elsewhere): the primary grant, once.
        // Not for a source that would ask a person while nobody waits: the next caller who needs
        // a token signs in, in the foreground.
        if (settings.source.interactive === true && flight.background) throw error;
        settings.sink.log(
          'info',
          `authrail: refresh token refused by ${settings.endpoint} (${typed.error ?? 'error'}); using the primary grant`,
        );
        refreshToken = undefined;
        attempts -= 1;
        continue;
      }
      const delayMs = delayBefore(settings, typed, attempts, refreshToken);
      if (delayMs === undefined) throw error;
      settings.sink.emit('retry', { attempt: attempts, delayMs, error: typed });
      settings.sink.log(
        'warn',
        `authrail: token request attempt ${attempts} failed (${typed.code}${typed.status ? ` ${typed.status}` : ''}); retrying in ${delayMs} ms`,
      );
      await flight.sleep(delayMs);
    }
  }
}
