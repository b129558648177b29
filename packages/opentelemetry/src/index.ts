/**
 * `@authrail/opentelemetry`: OpenTelemetry for authrail through `@opentelemetry/api` only
 * (your SDK, your exporters): a span per token request, span events for rejected
 * credentials and replays, and token metrics — as a strategy's `on` listeners.
 *
 * @example
 * ```ts
 * import { createAuthFetch } from '@authrail/fetch';
 * import { mskApim } from '@authrail/msk-apim';
 * import { openTelemetry } from '@authrail/opentelemetry';
 *
 * const api = createAuthFetch(mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001', on: openTelemetry() }));
 * ```
 *
 * @packageDocumentation
 */
export { openTelemetry, type OpenTelemetryOptions } from './telemetry.js';
