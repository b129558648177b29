/**
 * Events and logging. Every event is a plain object without secrets, so it can be
 * counted, logged or sent to metrics as it is.
 *
 * @module
 */
import { ConfigError, type AuthrailError } from './errors.js';
import type { TokenInfo } from './token.js';

/** Why a new token was requested. */
export type TokenFetchReason =
  /** No token was held (cold start or a new process). */
  | 'initial'
  /** The held token was past its usable lifetime. */
  | 'expired'
  /** The held token was rejected by the API or invalidated. */
  | 'invalidated'
  /** The held token was still valid; refreshed ahead of expiry in the background. */
  | 'refresh-ahead';

/** Emitted when a token was obtained while none was held (`reason: 'initial'`). */
export interface TokenFetchedEvent {
  /** The new token's type, expiry and scope (never the token). */
  token: TokenInfo;
  /** Why it was requested. */
  reason: TokenFetchReason;
  /** Which grant was used: the source's own, or `refresh_token`. */
  grant: 'primary' | 'refresh_token';
  /** Token endpoint attempts it took, including the successful one. */
  attempts: number;
  /** From the first attempt to the token, in milliseconds. */
  durationMs: number;
  /** The token endpoint (origin and path; the issuer while it is being discovered). */
  endpoint: string;
}

/** Emitted when a token replaced a previous one (expired, invalidated, or ahead of expiry). */
export type TokenRefreshedEvent = TokenFetchedEvent;

/** Emitted before a token endpoint attempt is retried. */
export interface RetryEvent {
  /** The attempt that failed, starting at 1. */
  attempt: number;
  /** How long until the next attempt. */
  delayMs: number;
  /** Why the attempt failed. */
  error: AuthrailError;
}

/** Emitted when getting a token failed for good, a background refresh failed, or revoking a token at sign-out failed. */
export interface ErrorEvent {
  /** The typed error. */
  error: AuthrailError;
  /**
   * `token`: a caller waited for it and got this error; `background-refresh`: callers
   * kept using the valid token; `sign-out`: a token could not be revoked at sign-out
   * (it was forgotten locally, but the server may still honour it).
   */
  phase: 'token' | 'background-refresh' | 'sign-out';
  /** For `token` and `background-refresh`: from the token request's first attempt to this failure, in milliseconds. */
  durationMs?: number;
}

/** Why a rejected request was or was not replayed. */
export type ReplayReason =
  /** The token was invalidated; the request is sent once more with a fresh one. */
  | 'replaying'
  /** The replay was rejected too: returned as it is, and the fresh token kept. */
  | 'already-replayed'
  /** The body was a one-shot stream: it cannot be sent again, so the 401 is returned. */
  | 'body-not-replayable'
  /** The credential cannot be refreshed (a static token or API key): the 401 is returned. */
  | 'not-refreshable'
  /** The token lacks a scope (`error="insufficient_scope"`): a fresh one would too, so nothing is refreshed. */
  | 'insufficient-scope'
  /**
   * The server asked for a DPoP nonce (`DPoP error="use_dpop_nonce"` and a `DPoP-Nonce`):
   * sent once more with a proof carrying it, and the same token.
   */
  | 'dpop-nonce';

/** Emitted when an API rejected the credential a request carried (401, or 403 with `insufficient_scope`). */
export interface RejectedEvent {
  /** HTTP method of the rejected request. */
  method: string;
  /** Origin and path of the request (no query string). */
  url: string;
  /** The status of the rejection: 401, or 403 for `insufficient_scope`. */
  status: number;
  /** Whether the request is being replayed with a fresh token. */
  replay: boolean;
  /** Why it is (or is not) replayed. */
  reason: ReplayReason;
  /** The challenge's `error` (`invalid_token`, `insufficient_scope`), when the server sent one. */
  error?: string;
  /** The scope the server asked for, with `insufficient_scope`. */
  scope?: string;
}

/**
 * Emitted the first time a strategy sends a request to an origin without a credential:
 * the origin is not in `origins`, or the hop went from https: to http:. Once per origin,
 * so a misconfigured allowlist is seen, not silent.
 */
export interface UncredentialedEvent {
  /** The origin that got no credential. */
  origin: string;
  /** HTTP method of the first such request. */
  method: string;
  /** Origin and path of the first such request (no query string). */
  url: string;
  /** `not-allowed`: the origin is not in `origins`; `downgrade`: an https: request was redirected to http:. */
  reason: 'not-allowed' | 'downgrade';
}

/**
 * Listeners for what happens inside authrail. All optional; a listener that throws is
 * logged and otherwise ignored.
 *
 * @example
 * ```ts
 * let refreshes = 0;
 * createAuthStrategy({ source, origins, on: { tokenRefreshed: () => refreshes++ } });
 * ```
 */
export interface AuthEvents {
  /** A token was obtained while none was held. */
  tokenFetched?: (event: TokenFetchedEvent) => void;
  /** A token replaced a previous one: expired, invalidated, or ahead of expiry. */
  tokenRefreshed?: (event: TokenRefreshedEvent) => void;
  /** A token request failed and will be tried again. */
  retry?: (event: RetryEvent) => void;
  /** Getting a token failed for good, a background refresh failed, or a revocation at sign-out failed. */
  error?: (event: ErrorEvent) => void;
  /** An API rejected a request's credential (401, or 403 `insufficient_scope`); says whether it is replayed. */
  rejected?: (event: RejectedEvent) => void;
  /** A request went to an origin without a credential, said once per origin (see {@link UncredentialedEvent}). */
  uncredentialed?: (event: UncredentialedEvent) => void;
}

/**
 * A logger: `console`, pino, winston and most others fit. authrail passes one string
 * per call, never a token or secret, and calls the methods on the logger (keeps `this`).
 */
export interface Logger {
  /** Detail for troubleshooting. */
  debug?(message: string): void;
  /** Tokens fetched and refreshed, replays. */
  info?(message: string): void;
  /**
   * Retried token requests, failed background refreshes, requests not replayed, and the
   * first request to each origin that went without a credential (see {@link notice}).
   */
  warn?(message: string): void;
  /** Token requests that failed for good. */
  error?(message: string): void;
}

/** Every event name, to refuse a misspelt listener at construction. */
const EVENT_NAMES: ReadonlySet<string> = new Set<keyof AuthEvents>([
  'tokenFetched',
  'tokenRefreshed',
  'retry',
  'error',
  'rejected',
  'uncredentialed',
]);
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function checkOn(on: unknown): AuthEvents {
  if (on === undefined) return {};
  if (typeof on !== 'object' || on === null || Array.isArray(on))
    throw new ConfigError('must be an object of event listeners, e.g. { error: (e) => … }', { option: 'on' });
  for (const [name, listener] of Object.entries(on)) {
    if (!EVENT_NAMES.has(name))
      throw new ConfigError(`is not an event; events are ${[...EVENT_NAMES].join(', ')}`, {
        option: `on.${name}`,
      });
    if (listener !== undefined && typeof listener !== 'function')
      throw new ConfigError('must be a function', { option: `on.${name}` });
  }
  return on as AuthEvents;
}

function checkLogger(logger: unknown): Logger | false | undefined {
  if (logger === undefined || logger === false) return logger;
  const methods = LOG_LEVELS.filter(
    (level) => (logger as Record<string, unknown> | null)?.[level] !== undefined,
  );
  if (
    typeof logger !== 'object' ||
    logger === null ||
    methods.length === 0 ||
    methods.some((level) => typeof (logger as Record<string, unknown>)[level] !== 'function')
  ) {
    throw new ConfigError(
      'must be an object with debug, info, warn or error methods (console, pino, …), or false',
      {
        option: 'logger',
      },
    );
  }
  return logger as Logger;
}

/**
 * Says something a user must hear the first time it happens (a request that went without
 * a credential, an API that gets no token): on the logger's `warn` when there is one, on
 * `console.warn` when none was given, and nowhere with `logger: false`. Presets use it for
 * their own such warnings.
 *
 * @param logger - the `logger` option as given
 * @example
 * ```ts
 * notice(options.logger, 'authrail: myPreset was given no origins, so …');
 * ```
 */
export function notice(logger: Logger | false | undefined, message: string): void {
  try {
    // The one place authrail writes to the console: what a user must hear, unasked.
    // eslint-disable-next-line no-console
    if (logger === undefined) console.warn(message);
    else if (logger) logger.warn?.(message);
  } catch {
    // a broken logger must never break a request
  }
}

/** Internal: emits events and log lines, isolating the library from listener failures. */
export class EventSink {
  readonly #on: AuthEvents;
  readonly #logger: Logger | false | undefined;

  /** @throws `ConfigError` naming `on`, `on.<name>` or `logger` */
  constructor(on: AuthEvents | undefined, logger: Logger | false | undefined) {
    this.#on = checkOn(on);
    this.#logger = checkLogger(logger);
  }

  emit<K extends keyof AuthEvents>(name: K, event: Parameters<NonNullable<AuthEvents[K]>>[0]): void {
    const listener = this.#on[name] as ((e: typeof event) => void) | undefined;
    if (!listener) return;
    try {
      listener(event);
    } catch (err) {
      this.log(
        'warn',
        `authrail: the ${name} listener threw: ${err instanceof Error ? err.name : typeof err}`,
      );
    }
  }

  log(level: keyof Logger, message: string): void {
    try {
      if (this.#logger) this.#logger[level]?.(message);
    } catch {
      // a broken logger must never break a request
    }
  }

  /** See {@link notice}. */
  notice(message: string): void {
    notice(this.#logger, message);
  }
}
