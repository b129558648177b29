/**
 * undici's two handler APIs as this package uses them: the new one (undici 7, which
 * `compose` hands every interceptor) inside, and two shims for undici 6, whose handlers
 * are all legacy (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`).
 *
 * @module
 */

/** Response headers, lower-case names (undici 7's `IncomingHttpHeaders`). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** What a handler may do with its request: undici 7's `DispatchController`. */
export interface Controller {
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: unknown;
  /** undici 6: the wire's raw headers and trailers, which a legacy caller gets as they were. */
  rawHeaders?: unknown;
  rawTrailers?: unknown;
  abort(reason: unknown): void;
  pause(): void;
  resume(): void;
}

/** undici 7's `DispatchHandler`: the API this package speaks inside. */
export interface Handler {
  onRequestStart?(controller: Controller, context: unknown): void;
  onResponseStart?(controller: Controller, status: number, headers: ResponseHeaders, message?: string): void;
  onResponseData?(controller: Controller, chunk: Buffer): void;
  onResponseEnd?(controller: Controller, trailers: ResponseHeaders): void;
  onResponseError?(controller: Controller | null, error: Error): void;
}

/** undici 6's `DispatchHandlers`. */
export interface LegacyHandler {
  onConnect?(abort: (reason?: unknown) => void, context?: unknown): void;
  onHeaders?(status: number, raw: Buffer[], resume: () => void, message?: string): boolean | void;
  onData?(chunk: Buffer): boolean | void;
  onComplete?(trailers: Buffer[] | null): void;
  onError?(error: Error): void;
}

/** undici 6's flat raw headers (`[name, value, …]`, values may be arrays) as lower-case names. */
function parseRawHeaders(raw: unknown): ResponseHeaders {
  const out: ResponseHeaders = {};
  if (!Array.isArray(raw)) return out;
  for (let i = 0; i < raw.length; i += 2) {
    const key = String(raw[i]).toLowerCase();
    const value: unknown = raw[i + 1];
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const seen = out[key];
    if (seen === undefined) out[key] = values.length === 1 ? values[0] : values;
    else out[key] = [...(Array.isArray(seen) ? seen : [seen]), ...values];
  }
  return out;
}

/** A caller's legacy handler (undici 6) seen through the new API, as undici 7's `WrapHandler` does. */
export function fromLegacy(handler: LegacyHandler): Required<Handler> {
  return {
    onRequestStart: (controller, context) =>
      handler.onConnect?.((reason) => controller.abort(reason), context),
    onResponseStart: (controller, status, _headers, message) => {
      const raw = (controller.rawHeaders ?? []) as Buffer[];
      if (handler.onHeaders?.(status, raw, () => controller.resume(), message) === false) controller.pause();
    },
    onResponseData: (controller, chunk) => {
      if (handler.onData?.(chunk) === false) controller.pause();
    },
    onResponseEnd: (controller) => handler.onComplete?.((controller.rawTrailers ?? null) as Buffer[] | null),
    onResponseError: (_controller, error) => handler.onError?.(error),
  };
}

/** A new-API handler handed to an undici 6 dispatch as a legacy one, as undici 7's `UnwrapHandler` does. */
export function toLegacy(handler: Required<Handler>): LegacyHandler {
  let resumeFn = (): void => undefined;
  let abortFn = (_reason?: unknown): void => undefined;
  // Only this package's hop sees it: plain fields, no getters.
  const controller = {
    paused: false,
    aborted: false,
    reason: null as unknown,
    rawHeaders: null as unknown,
    rawTrailers: null as unknown,
    pause(): void {
      controller.paused = true;
    },
    resume(): void {
      if (!controller.paused) return;
      controller.paused = false;
      resumeFn();
    },
    abort(reason: unknown): void {
      if (controller.aborted) return;
      controller.aborted = true;
      controller.reason = reason;
      abortFn(reason);
    },
  };
  return {
    onConnect: (abort, context) => {
      abortFn = abort;
      handler.onRequestStart(controller, context);
    },
    onHeaders: (status, raw, resume, message) => {
      resumeFn = resume;
      controller.rawHeaders = raw;
      handler.onResponseStart(controller, status, parseRawHeaders(raw), message);
      return !controller.paused;
    },
    onData: (chunk) => {
      handler.onResponseData(controller, chunk);
      return !controller.paused;
    },
    onComplete: (trailers) => {
      controller.rawTrailers = trailers;
      handler.onResponseEnd(controller, parseRawHeaders(trailers));
    },
    onError: (error) => handler.onResponseError(controller, error),
  };
}
