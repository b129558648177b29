import {
  SpanKind,
  SpanStatusCode,
  metrics,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  ConfigError,
  checkOptions,
  type AuthEvents,
  type ErrorEvent,
  type RejectedEvent,
  type TokenFetchedEvent,
} from '@authrail/core';

/** Options of {@link openTelemetry}. */
export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or the SDK's). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider. */
  meterProvider?: MeterProvider;
  /**
   * Names this strategy in every span and metric (`authrail.strategy`), to tell several
   * apart, e.g. `msk-blaze`. Default: none.
   */
  strategy?: string;
  /** Your own listeners: called as well, after the telemetry is recorded. */
  on?: AuthEvents;
}

const SCOPE = '@authrail/opentelemetry';

/** What a span or metric may carry of an endpoint: origin and path (never a query). */
function shown(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  try {
    const url = new URL(endpoint);
    return `${url.origin}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * OpenTelemetry for a strategy, as its `on` listeners: one line to enable.
 *
 * - A span per token request (`authrail token request`, kind client), timed from its first
 *   attempt: `authrail.token.endpoint` (origin and path), `authrail.token.grant`,
 *   `authrail.token.reason`, `authrail.token.attempts`, `authrail.token.outcome` (`ok` or
 *   `error`), and on failure `authrail.error.code` and an error status. Each retried
 *   attempt is a span event (`retry`) on the span of the next outcome.
 * - Span events on the active span (the caller's request, with HTTP instrumentation) for
 *   `rejected` answers (`authrail.rejected`: status, reason, replayed, error, scope).
 * - Metrics: counters `authrail.tokens.fetched`, `authrail.tokens.refreshed` (by reason),
 *   `authrail.replays` (by reason), `authrail.token_endpoint.errors` (by code); a histogram
 *   `authrail.token_request.duration` (seconds, of the requests that got a token); an observable gauge
 *   `authrail.token.remaining_lifetime` (seconds left on the current token).
 *
 * No token, secret or query string is ever in an attribute: events carry none, and URLs
 * are cut to origin and path.
 *
 * @param options - providers (default: the global ones), a name for this strategy, and
 *   your own listeners
 * @returns listeners for the `on` option of any strategy or preset
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * import { openTelemetry } from '@authrail/opentelemetry';
 *
 * const strategy = mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001', on: openTelemetry({ strategy: 'msk' }) });
 * ```
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): AuthEvents {
  checkTelemetryOptions(options);
  const recorder = createRecorder(options);
  const { base, instruments } = recorder;
  const user = options.on ?? {};
  return {
    tokenFetched(event) {
      recordObtained(recorder, event);
      instruments.fetched.add(1, { ...base, 'authrail.token.grant': event.grant });
      user.tokenFetched?.(event);
    },
    tokenRefreshed(event) {
      recordObtained(recorder, event);
      instruments.refreshed.add(1, {
        ...base,
        'authrail.token.reason': event.reason,
        'authrail.token.grant': event.grant,
      });
      user.tokenRefreshed?.(event);
    },
    retry(event) {
      recorder.retries.push({
        attempt: event.attempt,
        delayMs: event.delayMs,
        code: event.error.code,
        at: Date.now(),
      });
      user.retry?.(event);
    },
    error(event) {
      recordFailure(recorder, event);
      user.error?.(event);
    },
    rejected(event) {
      recordRejected(recorder, event);
      user.rejected?.(event);
    },
    ...(user.uncredentialed ? { uncredentialed: user.uncredentialed } : {}),
  };
}

/** Checks the options of {@link openTelemetry}: the providers' shape and the strategy name. */
function checkTelemetryOptions(options: OpenTelemetryOptions): void {
  checkOptions(options, ['tracerProvider', 'meterProvider', 'strategy', 'on']);
  for (const name of ['tracerProvider', 'meterProvider'] as const) {
    const provider = options[name] as { getTracer?: unknown; getMeter?: unknown } | undefined;
    if (provider !== undefined && typeof (provider.getTracer ?? provider.getMeter) !== 'function')
      throw new ConfigError(
        `must be an OpenTelemetry ${name === 'tracerProvider' ? 'TracerProvider' : 'MeterProvider'}`,
        {
          option: name,
        },
      );
  }
  if (options.strategy !== undefined && (typeof options.strategy !== 'string' || !options.strategy))
    throw new ConfigError('must be a non-empty string', { option: 'strategy' });
}

/** The metrics {@link openTelemetry} records into (besides the remaining-lifetime gauge). */
interface Instruments {
  fetched: Counter;
  refreshed: Counter;
  replays: Counter;
  errors: Counter;
  duration: Histogram;
}

/** One retried attempt of the token request in progress. */
interface Retry {
  attempt: number;
  delayMs: number;
  code: string;
  at: number;
}

/** What one strategy's listeners record into, and what they remember between events. */
interface Recorder {
  tracer: Tracer;
  /** Attributes of every span and metric: the strategy's name, when given. */
  base: Attributes;
  instruments: Instruments;
  /** When the current token expires, for the remaining-lifetime gauge. */
  expiresAt: number | undefined;
  /** Retries of the token request in progress, recorded on its span when it ends. */
  retries: Retry[];
}

/** The tracer, the instruments and the remaining-lifetime gauge of one strategy. */
function createRecorder(options: OpenTelemetryOptions): Recorder {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const base: Attributes = options.strategy ? { 'authrail.strategy': options.strategy } : {};
  const instruments: Instruments = {
    fetched: meter.createCounter('authrail.tokens.fetched', {
      description: 'Tokens obtained while none was held',
    }),
    refreshed: meter.createCounter('authrail.tokens.refreshed', {
      description: 'Tokens that replaced a previous one (expired, invalidated, ahead of expiry)',
    }),
    replays: meter.createCounter('authrail.replays', {
      description: 'Requests whose credential an API rejected, by whether and why they were replayed',
    }),
    errors: meter.createCounter('authrail.token_endpoint.errors', {
      description: 'Token requests that failed for good, by error code',
    }),
    duration: meter.createHistogram('authrail.token_request.duration', {
      description: 'From the first attempt of a token request to its token',
      unit: 's',
    }),
  };
  const recorder: Recorder = { tracer, base, instruments, expiresAt: undefined, retries: [] };
  meter
    .createObservableGauge('authrail.token.remaining_lifetime', {
      description: 'Seconds left on the current token',
      unit: 's',
    })
    .addCallback((result) => {
      const { expiresAt } = recorder;
      if (expiresAt !== undefined) result.observe(Math.max(0, (expiresAt - Date.now()) / 1000), base);
    });
  return recorder;
}

/** Ends a token request: its span (with the retries it took) and, on success, its duration. */
function recordTokenSpan(
  recorder: Recorder,
  attributes: Attributes,
  durationMs: number,
  failure?: string,
): void {
  const end = Date.now();
  const span = recorder.tracer.startSpan('authrail token request', {
    kind: SpanKind.CLIENT,
    startTime: end - durationMs,
    attributes: { ...recorder.base, ...attributes, 'authrail.token.outcome': failure ? 'error' : 'ok' },
  });
  for (const retry of recorder.retries)
    span.addEvent(
      'retry',
      {
        'authrail.token.attempt': retry.attempt,
        'authrail.retry.delay_ms': retry.delayMs,
        'authrail.error.code': retry.code,
      },
      retry.at,
    );
  recorder.retries = [];
  if (failure) {
    span.setAttribute('authrail.error.code', failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
  }
  span.end(end);
  if (!failure) recorder.instruments.duration.record(durationMs / 1000, recorder.base);
}

/** A token fetched or refreshed: the new expiry, and the span of its request. */
function recordObtained(recorder: Recorder, event: TokenFetchedEvent): void {
  recorder.expiresAt = event.token.expiresAt;
  const endpoint = shown(event.endpoint);
  recordTokenSpan(
    recorder,
    {
      ...(endpoint ? { 'authrail.token.endpoint': endpoint } : {}),
      'authrail.token.grant': event.grant,
      'authrail.token.reason': event.reason,
      'authrail.token.attempts': event.attempts,
    },
    event.durationMs,
  );
}

/** A failure for good: the span of the token request it ended (not for a sign-out), and its count. */
function recordFailure(recorder: Recorder, event: ErrorEvent): void {
  const { retries } = recorder;
  if (event.phase !== 'sign-out') {
    const endpoint = shown((event.error as { endpoint?: string }).endpoint);
    const attempts = retries.length + 1;
    recordTokenSpan(
      recorder,
      {
        ...(endpoint ? { 'authrail.token.endpoint': endpoint } : {}),
        'authrail.token.attempts': attempts,
        'authrail.token.phase': event.phase,
      },
      event.durationMs ?? 0,
      event.error.code,
    );
  }
  recorder.instruments.errors.add(1, {
    ...recorder.base,
    'authrail.error.code': event.error.code,
    'authrail.token.phase': event.phase,
  });
}

/** An API rejected a credential: an event on the caller's active span, and the replay count. */
function recordRejected(recorder: Recorder, event: RejectedEvent): void {
  const { base } = recorder;
  const attributes: Attributes = {
    ...base,
    'http.response.status_code': event.status,
    'authrail.rejected.reason': event.reason,
    'authrail.rejected.replayed': event.replay,
    ...(event.error ? { 'authrail.rejected.error': event.error } : {}),
    ...(event.scope ? { 'authrail.rejected.scope': event.scope } : {}),
  };
  trace.getActiveSpan()?.addEvent('authrail.rejected', attributes);
  recorder.instruments.replays.add(1, {
    ...base,
    'authrail.rejected.reason': event.reason,
    'authrail.rejected.replayed': event.replay,
  });
}
