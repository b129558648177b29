// What is read from the authorization server: bounded in size, rate limits understood,
// nothing left hanging. Against the sandbox's real HTTP server and its faults.
import { describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, createAuthStrategy, isTokenEndpointError } from '@authrail/core';
import { clientCredentials, clientSecretPost, type ClientCredentialsOptions } from '@authrail/oauth2';
import { FAST_RETRY, useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const source = (extra: Partial<ClientCredentialsOptions> = {}) =>
  clientCredentials({
    server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
    clientId: 'msk-demo-client',
    clientAuth: clientSecretPost('msk-demo-secret'),
    scope: 'full',
    ...extra,
  });
const strategyOf = (extra: Partial<ClientCredentialsOptions> = {}) =>
  createAuthStrategy({ source: source(extra), origins: [sb.url], retry: FAST_RETRY });

/** The error a token request ends in (or a failure when it gives a token). */
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => new Error('got a token'),
    (e: unknown) => e as Error,
  );

describe('response size cap (maxResponseBytes, default 1 MiB)', () => {
  test.each([
    ['a 50 MB token response', { type: 'huge-body', bytes: 50_000_000 }, 200, 1],
    ['100 KB of gzip that expands to 100 MB', { type: 'gzip-bomb', bytes: 100_000_000 }, 200, 1],
    ['an endless body', { type: 'endless-body' }, 200, 1],
    // An error page is capped too; 5xx stays retryable, so the manager tries its 3 times.
    ['a 20 MB 502 error page', { type: 'huge-body', bytes: 20_000_000, status: 502 }, 502, 3],
  ] as const)(
    'regression: %s is a typed error, read no further than the cap',
    async (_name, fault, status, requests) => {
      sb.inject('msk-token', fault);
      const error = await failureOf(strategyOf().tokens.getToken());
      expect(isTokenEndpointError(error)).toBe(true);
      expect(error).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID, status });
      expect(error.message).toMatch(
        /with a body over 1048576 bytes \(maxResponseBytes\); the rest was not read$/,
      );
      expect(sb.tokenRequests()).toHaveLength(requests);
    },
  );

  test('the cap is an option: a smaller one refuses an ordinary response, a larger one reads on', async () => {
    const small = await failureOf(strategyOf({ maxResponseBytes: 20 }).tokens.getToken());
    expect(small.message).toMatch(/over 20 bytes \(maxResponseBytes\)/);
    await expect(strategyOf({ maxResponseBytes: 100_000 }).tokens.getToken()).resolves.toBeDefined();
    // 3 MB read whole under a 4 MB cap: what fails then is the content (no token_type), not the size.
    sb.inject('msk-token', { type: 'huge-body', bytes: 3_000_000 }, { times: 1 });
    const big = await failureOf(strategyOf({ maxResponseBytes: 4_000_000 }).tokens.getToken());
    expect(big).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 200 });
    expect(big.message).not.toMatch(/maxResponseBytes/);
  });

  test.each([0, -1, 1.5, '1048576', Number.NaN, 2 ** 60])(
    'maxResponseBytes: %s is refused at construction',
    (value) => {
      const build = () => source({ maxResponseBytes: value as number });
      expect(build).toThrow(ConfigError);
      expect(build).toThrow(/^maxResponseBytes: must be a positive whole number of bytes$/);
    },
  );

  test('fetch: anything but a function is refused at construction', () => {
    expect(() => source({ fetch: 'fetch' as never })).toThrow(/^fetch: must be a fetch function$/);
  });
});

describe('no wedge on a stalled compressed body (issue 9 #1)', () => {
  test('regression: a gzip body that stops mid-stream ends at the attempt deadline; the next call asks again', async () => {
    sb.inject('msk-token', { type: 'stalled-gzip' }, { times: 3 });
    const strategy = strategyOf();
    const error = await failureOf(strategy.tokens.getToken());
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT });
    expect(sb.tokenRequests()).toHaveLength(3);
    await expect(strategy.tokens.getToken()).resolves.toBeDefined();
    expect(sb.tokenRequests()).toHaveLength(4);
  });
});

describe('rate limits (issue 9 #3)', () => {
  // Okta's X-Rate-Limit-Reset is the Okta preset's to read (okta.test.ts).
  test.each([['Retry-After as an HTTP date', 'date']] as const)(
    'regression: %s is read, and remembered',
    async (_name, form) => {
      sb.inject('msk-token', { type: 'rate-limit', retryAfterSeconds: 600, form }, { times: 1 });
      const strategy = strategyOf();
      const first = await failureOf(strategy.tokens.getToken());
      expect(first).toMatchObject({ status: 429 });
      const wait = (first as { retryAfterMs?: number }).retryAfterMs ?? 0;
      expect(wait).toBeGreaterThan(590_000);
      expect(wait).toBeLessThanOrEqual(601_000);
      const second = await failureOf(strategy.tokens.getToken());
      expect(second.message).toMatch(/not asking .* again until /);
      expect(sb.tokenRequests()).toHaveLength(1);
    },
  );
});
