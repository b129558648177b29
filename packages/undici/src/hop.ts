/**
 * One hop of a caller's request: dispatched downstream, held at its headers while core
 * decides, then delivered to the caller or discarded.
 *
 * @module
 */
import type { AuthResponse } from '@authrail/core';
import type { Controller, Handler, ResponseHeaders } from './handler.js';

/** A discarded body longer than this is aborted (the socket is lost) instead of drained (it is kept). */
const DRAIN_LIMIT = 64 * 1024;

/** What a hop needs of the caller's request it belongs to. */
export interface Caller {
  readonly outer: Handler;
  readonly facade: Controller;
  readonly aborted: boolean;
  readonly reason: unknown;
  /** The hop is the caller's response now: later events go to the caller. */
  delivered(hop: Hop): void;
  /** The caller's response ended, or failed: nothing more to tell. */
  finish(): void;
  fail(error: unknown): void;
}

/** The hop's answer as core reads it, and how the interceptor hands it to the caller. */
export interface HopResponse extends AuthResponse {
  deliver(): void;
}

type State = 'waiting' | 'held' | 'delivered' | 'discarding' | 'done';

/** The undici handler of one hop (new API; undici 6 gets it through `toLegacy`). */
export class Hop implements Required<Handler> {
  #state: State = 'waiting';
  #controller: Controller | undefined;
  #status = 0;
  #headers: ResponseHeaders = {};
  #message: string | undefined;
  #held: Buffer[] = [];
  #trailers: ResponseHeaders | undefined;
  #error: Error | undefined;
  #drained = 0;
  #answer!: (response: HopResponse) => void;
  #refuse!: (error: unknown) => void;
  /** Settles at the hop's status and headers, or with the error that came first. */
  readonly response = new Promise<HopResponse>((resolve, reject) => {
    this.#answer = resolve;
    this.#refuse = reject;
  });

  constructor(
    private readonly caller: Caller,
    private readonly url: string,
  ) {}

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.caller.aborted) controller.abort(this.caller.reason);
  }

  onResponseStart(controller: Controller, status: number, headers: ResponseHeaders, message?: string): void {
    if (status < 200) return; // informational: not the hop's answer
    this.#controller = controller;
    this.#status = status;
    this.#headers = headers;
    this.#message = message;
    this.#state = 'held';
    controller.pause(); // nothing flows until core decides: deliver or discard
    this.#answer({
      status,
      headers: {
        get: (name) => {
          const value = headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value; // as fetch joins them
        },
      },
      url: this.url,
      discard: () => this.discard(),
      deliver: () => this.deliver(),
    });
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#state === 'held') this.#held.push(chunk);
    else if (this.#state === 'delivered') this.caller.outer.onResponseData?.(this.caller.facade, chunk);
    else if (this.#state === 'discarding' && (this.#drained += chunk.length) > DRAIN_LIMIT)
      controller.abort(new Error('authrail: a discarded response body too long to drain'));
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    if (this.#state === 'held') this.#trailers = trailers;
    if (this.#state !== 'delivered') {
      if (this.#state === 'discarding') this.#state = 'done';
      return;
    }
    this.caller.facade.rawTrailers = controller.rawTrailers ?? null;
    // A throw goes back to undici, which then calls onResponseError here, which forwards it:
    // undici 7's retry handler throws from onResponseEnd to ask for a retry.
    this.caller.outer.onResponseEnd?.(this.caller.facade, trailers);
    this.#state = 'done';
    this.caller.finish();
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    const state = this.#state;
    if (state === 'waiting') this.#refuse(error);
    else if (state === 'held') this.#error = error;
    else if (state === 'delivered') this.caller.fail(error);
    if (state !== 'held') this.#state = 'done';
  }

  /** Lets go of a response core does not return: drains a small body (the socket stays), aborts a big one. */
  discard(): void {
    if (this.#state !== 'held') return;
    this.#held = [];
    if (this.#trailers !== undefined || this.#error !== undefined) {
      this.#state = 'done';
      return;
    }
    this.#state = 'discarding';
    const length = Number(this.#headers['content-length']);
    if (length > DRAIN_LIMIT) this.#controller!.abort(new Error('authrail: a discarded response'));
    else this.#controller!.resume();
  }

  /** The caller gave up: a held response is let go; one on its way, or delivered, is aborted. */
  abort(reason: unknown): void {
    if (this.#state === 'held') this.discard();
    else if (this.#state === 'waiting' || this.#state === 'delivered') this.#controller?.abort(reason);
  }

  /**
   * Hands the held response to the caller: its start, what arrived while it was held, its
   * end or error; then lets the rest flow unless the caller paused. These calls come from
   * here, not from undici, so a throw in them is caught here, as undici would.
   */
  deliver(): void {
    const { outer, facade } = this.caller;
    const controller = this.#controller!;
    this.#state = 'delivered';
    this.caller.delivered(this);
    facade.rawHeaders = controller.rawHeaders ?? null;
    try {
      outer.onResponseStart?.(facade, this.#status, this.#headers, this.#message);
      for (const chunk of this.#held) outer.onResponseData?.(facade, chunk);
      this.#held = [];
      if (this.#trailers !== undefined) return this.onResponseEnd(controller, this.#trailers);
    } catch (error) {
      if (this.#trailers === undefined) controller.abort(error);
      this.#state = 'done';
      return this.caller.fail(error);
    }
    if (this.#error !== undefined) return this.onResponseError(controller, this.#error);
    if (!facade.paused) controller.resume();
  }

  pause(): void {
    this.#controller?.pause();
  }
  resume(): void {
    this.#controller?.resume();
  }
}
