/**
 * The shared flight: one token request at a time, awaited by every caller that needs a
 * token meanwhile, with the timers it runs. While anyone waits for it, its timers keep
 * the process alive; a refresh ahead of expiry that nobody waits for keeps nothing alive,
 * and a request every caller has left is given up.
 *
 * @module
 */
import type { Token } from './token.js';

type Timer = ReturnType<typeof setTimeout>;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** A token request in flight. */
export class Flight {
  /** Settles with the token, or the request's error. */
  readonly promise: Promise<Token>;
  readonly #controller = new AbortController();
  readonly #timers = new Set<Timer>();
  readonly #startedInBackground: boolean;
  #background: boolean;
  #waiters = 0;

  /**
   * @param background - a refresh ahead of expiry that nobody waits for yet
   * @param run - the request, given this flight (its signal, its timers)
   * @param givenUp - called when every caller has left a request one of them started
   */
  constructor(
    background: boolean,
    run: (flight: Flight) => Promise<Token>,
    private readonly givenUp: (flight: Flight) => void,
  ) {
    this.#background = background;
    this.#startedInBackground = background;
    this.promise = run(this);
    this.promise.catch(() => undefined); // reported by the manager; a flight nobody waits for must not be unhandled
  }

  /** Aborted when the flight is given up: every caller that waited has left. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True while nobody waits for it. Read at the end: a caller may have joined a background refresh. */
  get background(): boolean {
    return this.#background;
  }

  /** A timer of the flight: it keeps the process alive only while a caller waits. */
  timer(ms: number, fire: () => void): Timer {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fire();
    }, ms);
    if (this.#background) timer.unref?.();
    this.#timers.add(timer);
    return timer;
  }

  clearTimer(timer: Timer): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  /** Rejects when the flight is given up; never resolves. */
  abandoned(): Promise<never> {
    const { signal } = this;
    return new Promise((_resolve, reject) => {
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /** Waits `ms` between attempts, unless the flight is given up meanwhile. */
  sleep(ms: number): Promise<void> {
    let timer: Timer | undefined;
    const slept = new Promise<void>((resolve) => {
      timer = this.timer(ms, resolve);
    });
    return Promise.race([slept, this.abandoned()]).finally(() => timer && this.clearTimer(timer));
  }

  /**
   * A caller waits for the flight until it settles or `signal` aborts; while anyone
   * waits, its timers keep the process alive.
   */
  join(signal: AbortSignal | undefined): Promise<Token> {
    this.#waiters += 1;
    if (this.#background) {
      this.#background = false;
      for (const timer of this.#timers) timer.ref?.();
    }
    if (!signal) return this.promise;
    if (signal.aborted) {
      this.#leave();
      return Promise.reject(abortReason(signal));
    }
    return new Promise<Token>((resolve, reject) => {
      const onAbort = () => {
        this.#leave();
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.promise.then(
        (token) => {
          signal.removeEventListener('abort', onAbort);
          resolve(token);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /**
   * A caller left. When the last one has: a refresh ahead of expiry goes back to the
   * background; a request a caller started is given up (aborted, so a hanging endpoint
   * keeps nothing alive).
   */
  #leave(): void {
    this.#waiters -= 1;
    if (this.#waiters > 0) return;
    if (this.#startedInBackground) {
      this.#background = true;
      for (const timer of this.#timers) timer.unref?.();
      return;
    }
    this.#controller.abort(
      new DOMException('every caller waiting for this token request left', 'AbortError'),
    );
    this.givenUp(this);
  }
}
