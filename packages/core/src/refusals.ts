/**
 * The memory of refusals: after the token endpoint asked to wait (`Retry-After`) or
 * refused the client, the manager refuses locally for a while instead of asking again, as
 * MSAL's throttling does, so a failing endpoint is not asked by every caller.
 *
 * @module
 */
import { MAX_FAILURE_COOLDOWN_MS } from './attempts.js';
import { ErrorCodes, TokenEndpointError, isTokenEndpointError, type AuthrailError } from './errors.js';

/** What a token manager remembers of the token endpoint's refusals. */
export class Refusals {
  #refusal: { error: TokenEndpointError; until: number; why: string } | undefined;
  /** Refusals of this client in a row, for the doubling cooldown. */
  #inARow = 0;

  /**
   * @param failureCooldownMs - the first cooldown after a refusal of the client (`0`: none)
   * @param now - the clock
   */
  constructor(
    private readonly failureCooldownMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * After a failure: a `Retry-After` longer than the manager waited is remembered; a
   * client the server refused (`invalid_client` and other 4xx but 429) is not asked again
   * for a short, doubling while.
   */
  remember(error: AuthrailError): void {
    if (!isTokenEndpointError(error)) return;
    const status = error.status ?? 0;
    if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) {
      this.#refusal = {
        error,
        until: this.now() + error.retryAfterMs,
        why: 'the server asked to wait (Retry-After)',
      };
      return;
    }
    if (error.code !== ErrorCodes.TOKEN_ENDPOINT_ERROR || status < 400 || status >= 500 || status === 429)
      return;
    if (this.failureCooldownMs === 0) return;
    this.#inARow += 1;
    const cooldown = Math.min(MAX_FAILURE_COOLDOWN_MS, this.failureCooldownMs * 2 ** (this.#inARow - 1));
    this.#refusal = {
      error,
      until: this.now() + cooldown,
      why: `it refused this client ${this.#inARow} time(s) in a row`,
    };
  }

  /** A token was obtained (or given): the endpoint is asked again. */
  forget(): void {
    this.#refusal = undefined;
    this.#inARow = 0;
  }

  /** The error to throw instead of asking `endpoint`, while a refusal lasts. */
  refused(endpoint: string): TokenEndpointError | undefined {
    if (!this.#refusal) return undefined;
    const remaining = this.#refusal.until - this.now();
    if (remaining <= 0) return undefined;
    const { error, until, why } = this.#refusal;
    return new TokenEndpointError(
      error.code,
      `${error.message}; not asking ${endpoint} again until ${new Date(until).toISOString()} (${Math.ceil(remaining / 1000)} s): ${why}`,
      {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.error === undefined ? {} : { error: error.error }),
        ...(error.errorDescription === undefined ? {} : { errorDescription: error.errorDescription }),
        ...(error.body === undefined ? {} : { body: error.body }),
        retryAfterMs: remaining,
        endpoint,
        cause: error,
      },
    );
  }
}
