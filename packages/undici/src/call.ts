/**
 * One caller's request through core's loop: the caller's handler, the one controller it
 * is given, the hops core sends, and the hop core returns, delivered.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthRequest, AuthStrategy } from '@authrail/core';
import { toLegacy, type Controller, type Handler, type LegacyHandler } from './handler.js';
import { Hop, type Caller, type HopResponse } from './hop.js';
import { hopOptions, requestOf, type DispatchOptions } from './request.js';

/** The `dispatch` of what is composed inside this interceptor. */
export type Dispatch = (opts: DispatchOptions, handler: Handler | LegacyHandler) => boolean;

/**
 * Marks what runs inside a strategy's loop (its token requests, its listeners): marked
 * there, unmarked around every dispatch made from it, so no socket, timer or callback
 * made for a hop inherits the mark.
 */
export interface Inside {
  run<T>(marked: boolean, fn: () => T): T;
  marked(): boolean;
}

/**
 * One storage for the process, each interceptor's mark its own object: on Node 20 every
 * AsyncLocalStorage instance adds work to every async operation in the process.
 */
const loops = new AsyncLocalStorage<object | undefined>();

/** A mark of one interceptor's own. */
export function createInside(): Inside {
  const mark = {};
  return {
    run: (marked, fn) => loops.run(marked ? mark : undefined, fn),
    marked: () => loops.getStore() === mark,
  };
}

/**
 * The one controller the caller's handler ever sees, for every hop and replay (as undici's
 * retry handler does): it acts on the delivered hop, or on the call before there is one.
 */
class CallerController implements Controller {
  #paused = false;
  rawHeaders: unknown = null;
  rawTrailers: unknown = null;

  constructor(private readonly call: Call) {}
  get paused(): boolean {
    return this.#paused;
  }
  get aborted(): boolean {
    return this.call.aborted;
  }
  get reason(): unknown {
    return this.call.reason;
  }
  pause(): void {
    this.#paused = true;
    this.call.current?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.call.current?.resume();
  }
  abort(reason: unknown): void {
    this.call.abort(reason);
  }
}

export class Call implements Caller {
  readonly facade: Controller = new CallerController(this);
  current: Hop | undefined;
  aborted = false;
  reason: unknown = null;
  #settled = false;
  readonly #hops: Hop[] = [];
  readonly #abort = new AbortController();

  constructor(
    private readonly dispatch: Dispatch,
    private readonly opts: DispatchOptions,
    readonly outer: Handler,
    private readonly legacy: boolean,
    private readonly origin: string,
    private readonly inside: Inside,
  ) {}

  /** Runs core's loop for the caller's request and delivers the hop it returns. */
  async run(strategy: AuthStrategy, bufferUpTo: number): Promise<void> {
    // Once, at once: undici's retry handler and fetch listen for abort from here on,
    // also while a token is fetched.
    this.outer.onRequestStart?.(this.facade, {});
    if (this.aborted) return;
    const request = await requestOf(this.origin, this.opts, bufferUpTo);
    if (this.aborted) return;
    const maxRedirects = this.opts.maxRedirections;
    const options = { signal: this.#abort.signal, ...(maxRedirects ? { maxRedirects } : {}) };
    const response = await this.inside.run(true, () =>
      strategy.send(request, (hop) => this.#send(hop), options),
    );
    if (this.#settled) return void response.discard();
    response.deliver();
    this.#release();
  }

  /** Core's `next`: dispatches one hop downstream; settles at its status and headers. */
  #send(request: AuthRequest): Promise<HopResponse> {
    if (this.aborted) return Promise.reject(this.reason);
    const opts = hopOptions(this.opts, this.origin, request);
    const hop = new Hop(this, request.url.href);
    this.#hops.push(hop);
    try {
      this.inside.run(false, () => this.dispatch(opts, this.legacy ? toLegacy(hop) : hop));
    } catch (error) {
      hop.onResponseError(null, error as Error);
    }
    return hop.response;
  }

  delivered(hop: Hop): void {
    this.current = hop;
  }

  finish(): void {
    this.#settled = true;
    this.#release();
  }

  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#release();
    try {
      this.outer.onResponseError?.(this.facade, error as Error);
    } catch {
      // The caller has been told; undici reports a throw from here on a client's 'error'
      // event, which an interceptor does not have.
    }
  }

  abort(reason: unknown): void {
    if (this.aborted || this.#settled) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.#abort.abort(this.reason);
    // A delivered hop reports the abort itself, through its onResponseError.
    if (this.current) return this.current.abort(this.reason);
    for (const hop of this.#hops) hop.abort(this.reason);
    this.fail(this.reason);
  }

  /** Lets go of every hop core left held (a 3xx before an error, say), but the delivered one. */
  #release(): void {
    // Made only when there is a hop to let go: an Error per request (its stack) was an
    // eighth of the interceptor's CPU in a profile.
    let reason = this.reason;
    for (const hop of this.#hops)
      if (hop !== this.current) hop.abort((reason ??= new Error('authrail: this hop is no longer needed')));
  }
}
