/**
 * The interceptor: routes each dispatch by origin to a strategy, whose request loop
 * (core's `send`) then sends it, hop by hop, through what is composed inside.
 *
 * @module
 */
import { ConfigError, checkOptions, type AuthStrategy, type Logger } from '@authrail/core';
import type { Dispatcher } from 'undici';
import { Call, createInside, type Dispatch } from './call.js';
import { fromLegacy, type Handler, type LegacyHandler } from './handler.js';
import { originOf } from './request.js';

/**
 * Options of {@link authrail}.
 *
 * @example
 * ```ts
 * const options: AuthInterceptorOptions = { bufferBodiesUpTo: 64 * 1024, logger: console };
 * ```
 */
export interface AuthInterceptorOptions {
  /**
   * A one-shot body (a stream, an async iterable, and every body global `fetch` sends)
   * with a `content-length` at or under this many bytes is read into memory first, so it
   * can be replayed after a 401 or sent again on a 307/308. A longer one, or one of
   * unknown length, is sent once: after a 401 the caller gets the 401. `0` turns buffering
   * off. Default 1 MiB.
   */
  bufferBodiesUpTo?: number;
  /**
   * Where the once-per-origin debug line about a request that passes through untouched
   * (an origin with no route, an upgrade or `CONNECT`) goes. Default: none.
   */
  logger?: Logger | false;
}

const DEFAULT_BUFFER = 1024 * 1024;
/** How many pass-through lines are remembered (once per origin) before no more are said. */
const MAX_TOLD = 1024;
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function checkLogger(logger: unknown): Logger | undefined {
  if (logger === undefined || logger === false) return undefined;
  const methods = LOG_LEVELS.map((level) => (logger as Record<string, unknown> | null)?.[level]);
  const given = methods.filter((method) => method !== undefined);
  if (typeof logger !== 'object' || given.length === 0 || given.some((m) => typeof m !== 'function'))
    throw new ConfigError(
      'must be an object with debug, info, warn or error methods (console, pino, …), or false',
      {
        option: 'logger',
      },
    );
  return logger as Logger;
}

function checkBuffer(value: unknown): number {
  if (value === undefined) return DEFAULT_BUFFER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new ConfigError('must be a whole number of bytes, 0 or more', { option: 'bufferBodiesUpTo' });
  return value;
}

/**
 * A route's key as an origin: `https://host[:port]`, nothing after it. Errors say which
 * entry by its place and origin, never the key itself (it may hold a password).
 */
function routeOrigin(key: unknown, entry: number): string {
  let url: URL | undefined;
  try {
    url = new URL(String(key));
  } catch {
    // not a URL: refused below
  }
  const web = url?.protocol === 'https:' || url?.protocol === 'http:';
  if (
    typeof key !== 'string' ||
    !web ||
    url!.pathname !== '/' ||
    `${url!.search}${url!.hash}${url!.username}${url!.password}` !== '' ||
    /[?#]$/.test(key)
  ) {
    const shown = web ? ` (${url!.origin})` : '';
    throw new ConfigError(
      `entry ${entry}${shown} must be an origin only, https://host[:port]: no path, query or credentials`,
      { option: 'routes' },
    );
  }
  return url!.origin;
}

/** The routes as a map from normalised origin to strategy. */
function routeTable(routes: unknown): Map<string, AuthStrategy> {
  const candidate = routes as Partial<ReadonlyMap<unknown, unknown>> | null;
  const isMap = typeof candidate?.entries === 'function' && typeof candidate.get === 'function';
  if (!isMap && (typeof routes !== 'object' || routes === null || Array.isArray(routes)))
    throw new ConfigError('must be an object or a Map from origin to AuthStrategy', { option: 'routes' });
  const entries = isMap ? [...candidate!.entries!()] : Object.entries(routes as object);
  const table = new Map<string, AuthStrategy>();
  for (const [entry, [key, strategy]] of entries.entries()) {
    const origin = routeOrigin(key, entry);
    if (typeof (strategy as Partial<AuthStrategy> | null)?.send !== 'function')
      throw new ConfigError(`entry ${entry} (${origin}) must be an AuthStrategy (with send)`, {
        option: 'routes',
      });
    if (table.has(origin))
      throw new ConfigError(`entry ${entry} routes ${origin} again`, { option: 'routes' });
    table.set(origin, strategy as AuthStrategy);
  }
  if (table.size === 0) throw new ConfigError('must route at least one origin', { option: 'routes' });
  return table;
}

/** Says once per origin, at debug, that a request passed through untouched. */
function passThroughLog(logger: Logger | undefined): (origin: string | undefined, routed: boolean) => void {
  const told = new Set<string>();
  return (origin, routed) => {
    const line = routed
      ? `authrail: an upgrade or CONNECT request to ${origin} passes through without a credential`
      : `authrail: ${origin ?? 'a dispatch with no origin'} is not routed; its requests pass through untouched`;
    if (!logger?.debug || told.has(line) || told.size >= MAX_TOLD) return;
    told.add(line);
    try {
      logger.debug(line);
    } catch {
      // a broken logger must never break a request
    }
  };
}

/**
 * An undici interceptor that authenticates every request to a routed origin with that
 * origin's strategy: core's request loop runs under undici's `dispatch`, each hop is
 * dispatched to what is composed inside, and the hop core returns is what the caller gets.
 * A credential goes only to its own origin, on every hop: a request to an origin with no
 * route (and any upgrade or `CONNECT`) passes through untouched.
 *
 * Compose it inside undici's `redirect` and `retry` interceptors, so each redirect hop and
 * each retry runs through it, and outside `dns`, which rewrites the origin to an address:
 * `agent.compose(interceptors.dns(), authrail(routes), interceptors.redirect(), interceptors.retry())`
 * (the last listed is the outermost). A caller's `maxRedirections` (undici 6) is followed
 * by core, hop by hop; nothing composed inside ever follows a redirect with a credential.
 *
 * @param routes - origin (`https://host[:port]`) → the strategy for requests to it
 * @param options - body buffering for replays, and the logger
 * @returns an interceptor for `Dispatcher#compose` (undici 6.9+ and 7)
 * @throws `ConfigError` (from `@authrail/core`) naming a route that is not an origin or
 *   whose value is not an `AuthStrategy`, or an unknown or invalid option
 * @example
 * ```ts
 * import { Agent, setGlobalDispatcher } from 'undici';
 * import { authrail } from '@authrail/undici';
 *
 * setGlobalDispatcher(
 *   new Agent().compose(authrail({ 'https://apim.mskcc.org': msk, 'https://ctrp.example': ctrp })),
 * );
 * const res = await fetch('https://apim.mskcc.org/msk-apim/external/blaze/fhir/Patient');
 * ```
 */
export function authrail(
  routes: Record<string, AuthStrategy> | ReadonlyMap<string, AuthStrategy>,
  options: AuthInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  checkOptions(options, ['bufferBodiesUpTo', 'logger']);
  const table = routeTable(routes);
  const bufferUpTo = checkBuffer(options.bufferBodiesUpTo);
  const passThrough = passThroughLog(checkLogger(options.logger));
  const inside = createInside();
  const intercept = (dispatch: Dispatch): Dispatch =>
    // Two parameters exactly: undici 6's compose refuses any other length.
    function authrailInterceptor(opts, handler) {
      // A strategy's own requests (its token requests, through the global fetch this very
      // interceptor may be part of) are not authenticated again: MSK serves its token
      // endpoint on the API's own origin, whose loop would otherwise wait for itself.
      if (inside.marked()) return inside.run(false, () => dispatch(opts, handler));
      const origin = originOf(opts.origin);
      const strategy = origin === undefined ? undefined : table.get(origin);
      if (strategy === undefined || opts.upgrade || opts.method === 'CONNECT') {
        passThrough(origin, strategy !== undefined);
        return dispatch(opts, handler);
      }
      // undici 7 hands every interceptor a new-API handler; undici 6 only has legacy ones.
      const legacy = typeof (handler as Handler).onRequestStart !== 'function';
      const outer = legacy ? fromLegacy(handler as LegacyHandler) : (handler as Handler);
      const call = new Call(dispatch, opts, outer, legacy, origin!, inside);
      call.run(strategy, bufferUpTo).catch((error: unknown) => call.fail(error));
      return true;
    };
  return intercept as unknown as Dispatcher.DispatcherComposeInterceptor;
}
