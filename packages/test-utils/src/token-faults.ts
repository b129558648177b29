// One table of token endpoint faults that every preset is tested against, so MSK, Okta
// and Medblocks all prove the same behaviour: transient faults retried to a token,
// permanent ones surfaced as the right typed error after the right number of attempts.
import { expect } from 'vitest';
import { isTokenEndpointError, type TokenManager } from '@authrail/core';
import type { Fault, Sandbox, SandboxRoute } from '@authrail/sandbox';

/** Retry options that keep the fault table fast: 3 attempts, tiny backoff, 300 ms per attempt. */
export const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 300 } as const;

/** What a fault should end in. Codes are core's `ErrorCodes` values. */
export type FaultOutcome =
  | 'token'
  | {
      code:
        | 'AUTHRAIL_TOKEN_ENDPOINT_ERROR'
        | 'AUTHRAIL_TOKEN_RESPONSE_INVALID'
        | 'AUTHRAIL_TOKEN_ENDPOINT_UNREACHABLE'
        | 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT';
      status: number | undefined;
      /** Other fields the error must have. */
      fields?: Record<string, unknown>;
    };

/** One row: a fault injected on a token route, what it must end in, after how many token requests. */
export interface TokenFaultCase {
  name: string;
  fault: Fault;
  /** How many requests the fault applies to; default every request. */
  times?: number;
  outcome: FaultOutcome;
  /** Token requests the sandbox must have received, with {@link FAST_RETRY}. */
  requests: number;
}

/** The table. Use with `test.each(TOKEN_FAULT_CASES.map((c) => [c.name, c]))`. */
export const TOKEN_FAULT_CASES: readonly TokenFaultCase[] = [
  {
    name: '503 once, then a token',
    fault: { type: 'status', status: 503 },
    times: 1,
    outcome: 'token',
    requests: 2,
  },
  {
    name: '429 with Retry-After: 0 once, then a token',
    fault: { type: 'rate-limit', retryAfterSeconds: 0 },
    times: 1,
    outcome: 'token',
    requests: 2,
  },
  {
    name: 'a connection reset once, then a token',
    fault: { type: 'reset' },
    times: 1,
    outcome: 'token',
    requests: 2,
  },
  {
    name: 'a hang once (timed out), then a token',
    fault: { type: 'hang' },
    times: 1,
    outcome: 'token',
    requests: 2,
  },
  {
    name: 'always 500',
    fault: { type: 'status', status: 500 },
    outcome: { code: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', status: 500, fields: { error: 'server_error' } },
    requests: 3,
  },
  {
    name: 'always 429 with a Retry-After longer than allowed',
    fault: { type: 'rate-limit', retryAfterSeconds: 120 },
    outcome: { code: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', status: 429, fields: { retryAfterMs: 120_000 } },
    requests: 1,
  },
  {
    name: 'always hanging',
    fault: { type: 'hang' },
    outcome: { code: 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT', status: undefined },
    requests: 3,
  },
  {
    name: 'always reset',
    fault: { type: 'reset' },
    outcome: { code: 'AUTHRAIL_TOKEN_ENDPOINT_UNREACHABLE', status: undefined },
    requests: 3,
  },
  {
    name: 'an HTML gateway page',
    fault: { type: 'html' },
    outcome: { code: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', status: 502 },
    requests: 3,
  },
  {
    name: 'malformed JSON',
    fault: { type: 'malformed-json' },
    outcome: { code: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', status: 200 },
    requests: 1,
  },
  {
    name: 'no access_token',
    fault: { type: 'missing-access-token' },
    outcome: { code: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', status: 200 },
    requests: 1,
  },
  {
    name: "an error in Okta's errorCode shape",
    fault: { type: 'okta-error', status: 400, errorCode: 'E0000021', errorSummary: 'Bad request.' },
    // Typed for every preset; the Okta preset also maps it onto error/errorDescription
    // (its own test checks that), the others keep it as the body.
    outcome: {
      code: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR',
      status: 400,
      fields: { body: expect.stringContaining('"errorCode":"E0000021"') },
    },
    requests: 1,
  },
];

/**
 * Injects one case's fault on `route`, asks the preset's token manager for a token and
 * checks the outcome and how many token requests it took.
 */
export async function expectTokenFault(
  c: TokenFaultCase,
  sandbox: Sandbox,
  route: SandboxRoute,
  tokens: TokenManager,
): Promise<void> {
  sandbox.inject(route, c.fault, c.times === undefined ? {} : { times: c.times });
  const result = await tokens.getToken().then(
    (token) => ({ token }),
    (error: unknown) => ({ error }),
  );
  expect(sandbox.tokenRequests()).toHaveLength(c.requests);
  if (c.outcome === 'token') {
    expect(result).toMatchObject({ token: { tokenType: 'Bearer' } });
    return;
  }
  expect(result).toMatchObject({
    error: { code: c.outcome.code, status: c.outcome.status, ...c.outcome.fields },
  });
  expect(isTokenEndpointError((result as { error: unknown }).error)).toBe(true);
}
