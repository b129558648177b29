// Telemetry of real token requests against the sandbox, read back through the SDK's
// in-memory exporters: what is recorded, and that no token, secret or query is.
import { afterEach, describe, expect, test } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '@authrail/core';
import { mskApim } from '@authrail/msk-apim';
import { demoClients } from '@authrail/sandbox';
import { openTelemetry, type OpenTelemetryOptions } from '@authrail/opentelemetry';
import { FAST_RETRY, sendThrough, useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

function setup(extra: Partial<OpenTelemetryOptions> = {}) {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const on = openTelemetry({ tracerProvider, meterProvider, strategy: 'msk', ...extra });
  const strategy = mskApim({
    baseUrl: sb.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
    retry: FAST_RETRY,
    on,
  });
  /** The metrics as exported now: name → data points. */
  const read = async () => {
    await reader.forceFlush();
    const all: ResourceMetrics[] = exporter.getMetrics();
    const points = new Map<string, { attributes: Record<string, unknown>; value: unknown }[]>();
    for (const scope of all.at(-1)?.scopeMetrics ?? [])
      for (const metric of scope.metrics)
        points.set(
          metric.descriptor.name,
          metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
        );
    return points;
  };
  /** Everything exported, as one string: no secret may be in it. */
  const everything = async () =>
    JSON.stringify([
      spans.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]),
      [...(await read())],
    ]);
  return { strategy, spans, read, everything, tracerProvider };
}

// What an SDK's setup does: the active span follows async calls.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
afterEach(() => trace.disable());

describe('openTelemetry', () => {
  test('a span per token request, counters and a duration, the remaining lifetime; no token, secret or query anywhere', async () => {
    const { strategy, spans, read, everything } = setup();
    const url = `${sb.urls.mskApim.fhirBaseUrl}/Patient?_count=1&researchstudy=17-001`;
    expect((await sendThrough(strategy, url)).status).toBe(200);
    const [span] = spans.getFinishedSpans();
    expect(span?.name).toBe('authrail token request');
    expect(span?.attributes).toEqual({
      'authrail.strategy': 'msk',
      'authrail.token.endpoint': sb.urls.mskApim.tokenEndpoint,
      'authrail.token.grant': 'primary',
      'authrail.token.reason': 'initial',
      'authrail.token.attempts': 1,
      'authrail.token.outcome': 'ok',
    });
    const points = await read();
    expect(points.get('authrail.tokens.fetched')).toEqual([
      { attributes: { 'authrail.strategy': 'msk', 'authrail.token.grant': 'primary' }, value: 1 },
    ]);
    expect((points.get('authrail.token_request.duration')?.[0]?.value as { count: number }).count).toBe(1);
    const remaining = points.get('authrail.token.remaining_lifetime')?.[0]?.value as number;
    expect(remaining).toBeGreaterThan(3500);
    expect(remaining).toBeLessThanOrEqual(3600);

    const token = (await strategy.tokens.peek())!.accessToken;
    const shown = await everything();
    for (const secret of [token, demoClients.mskApim.clientSecret, '_count=1', 'researchstudy='])
      expect(shown).not.toContain(secret);
  });

  test('a revoked token: a rejected event on the active span, a replay counted, a refresh span with reason invalidated', async () => {
    const { strategy, spans, read, tracerProvider } = setup();
    const url = `${sb.urls.mskApim.fhirBaseUrl}/Patient`;
    await sendThrough(strategy, url);
    sb.revokeTokens();
    const request = tracerProvider.getTracer('app').startSpan('GET /Patient');
    await context.with(trace.setSpan(context.active(), request), () => sendThrough(strategy, url));
    request.end();
    const app = spans.getFinishedSpans().find((s) => s.name === 'GET /Patient')!;
    expect(app.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'authrail.rejected',
        {
          'authrail.strategy': 'msk',
          'http.response.status_code': 401,
          'authrail.rejected.reason': 'replaying',
          'authrail.rejected.replayed': true,
          'authrail.rejected.error': 'invalid_token',
        },
      ],
    ]);
    const refresh = spans.getFinishedSpans().filter((s) => s.name === 'authrail token request')[1]!;
    expect(refresh.attributes['authrail.token.reason']).toBe('invalidated');
    const points = await read();
    expect(points.get('authrail.replays')).toEqual([
      {
        attributes: {
          'authrail.strategy': 'msk',
          'authrail.rejected.reason': 'replaying',
          'authrail.rejected.replayed': true,
        },
        value: 1,
      },
    ]);
    expect(points.get('authrail.tokens.refreshed')?.[0]?.attributes['authrail.token.reason']).toBe(
      'invalidated',
    );
  });

  test('a token endpoint failing for good: retries as span events, an error span with the code, errors counted by code', async () => {
    const failures: { durationMs?: number }[] = [];
    const { strategy, spans, read } = setup({ on: { error: (e) => failures.push(e) } });
    sb.inject('msk-token', { type: 'status', status: 503 });
    await expect(strategy.tokens.getToken()).rejects.toMatchObject({ code: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR' });
    const [span] = spans.getFinishedSpans();
    // Timed from the first attempt, as core timed it (not from the first retry).
    const [seconds, nanos] = span!.duration;
    expect(failures[0]?.durationMs).toBeGreaterThan(0);
    expect(Math.round(seconds * 1000 + nanos / 1e6)).toBe(failures[0]?.durationMs);
    expect(span?.attributes).toMatchObject({
      'authrail.token.outcome': 'error',
      'authrail.error.code': 'AUTHRAIL_TOKEN_ENDPOINT_ERROR',
      'authrail.token.attempts': 3,
      'authrail.token.endpoint': sb.urls.mskApim.tokenEndpoint,
    });
    expect(span?.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(span?.events.map((e) => [e.name, e.attributes?.['authrail.token.attempt']])).toEqual([
      ['retry', 1],
      ['retry', 2],
    ]);
    const points = await read();
    expect(points.get('authrail.token_endpoint.errors')).toEqual([
      {
        attributes: {
          'authrail.strategy': 'msk',
          'authrail.error.code': 'AUTHRAIL_TOKEN_ENDPOINT_ERROR',
          'authrail.token.phase': 'token',
        },
        value: 1,
      },
    ]);
  });

  test('your own listeners are called too; bad options name the option', async () => {
    const seen: string[] = [];
    const { strategy } = setup({ on: { tokenFetched: (e) => seen.push(e.reason) } });
    await strategy.tokens.getToken();
    expect(seen).toEqual(['initial']);
    expect(() => openTelemetry({ tracerProvider: {} as never })).toThrow(ConfigError);
    expect(() => openTelemetry({ strategy: '' })).toThrow(
      expect.objectContaining({ option: 'strategy' }) as Error,
    );
  });

  test('with no provider given it uses the global ones (no-ops until an SDK is installed)', async () => {
    const { strategy } = setup();
    const plain = mskApim({
      baseUrl: sb.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: '17-001',
      on: openTelemetry(),
    });
    await expect(plain.tokens.getToken()).resolves.toBeDefined();
    await expect(strategy.tokens.getToken()).resolves.toBeDefined();
  });
});
