import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import {
  ErrorCodes,
  MissingScopeError,
  isTokenEndpointError,
  type AuthEvents,
  type TokenEndpointError,
} from '@authrail/core';
import { demoClients, startSandbox } from '@authrail/sandbox';
import { mskApim, type MskApimOptions } from '@authrail/msk-apim';
import {
  FAST_RETRY,
  TOKEN_FAULT_CASES,
  expectTokenFault,
  sendThrough,
  useSandbox,
} from '@authrail/test-utils';

const sb = useSandbox();

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000 } };
const options = (extra: Partial<MskApimOptions> = {}): MskApimOptions => ({
  baseUrl: sb.urls.mskApim.baseUrl,
  clientId: demoClients.mskApim.clientId,
  clientSecret: demoClients.mskApim.clientSecret,
  researchStudy: '17-001',
  ...fast,
  ...extra,
});
const fhir = () => sb.resourceRequests({ route: 'msk-fhir' });

describe('mskApim', () => {
  test('client_secret_post, scope=full, consented_on kept, researchstudy added', async () => {
    const strategy = mskApim(options());
    const response = await sendThrough(strategy, `${sb.urls.mskApim.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
    expect(fhir()[0]?.query.researchstudy).toBe('17-001');
    const token = await strategy.tokens.peek();
    expect(token?.extra).toMatchObject({ consented_on: expect.any(String) });
    expect(token?.scope).toBe('full');
    expect(fhir()[0]?.headers.authorization).toBe(`Bearer ${token?.accessToken}`);
    const [tokenRequest] = sb.tokenRequests();
    expect(tokenRequest).toMatchObject({ clientAuth: 'client_secret_post', grantType: 'client_credentials' });
    expect(new URLSearchParams(tokenRequest!.body.toString()).get('scope')).toBe('full');
    expect(tokenRequest!.headers.authorization).toBeUndefined();
  });

  test('an explicit per-request protocol is kept; no protocol at all → MissingScopeError, nothing sent', async () => {
    const strategy = mskApim(options());
    const response = await sendThrough(
      strategy,
      `${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`,
    );
    expect(response.status).toBe(200);
    expect(fhir()[0]?.query.researchstudy).toBe('12-245');
    const unscoped = mskApim(options({ researchStudy: undefined }));
    await expect(sendThrough(unscoped, `${sb.urls.mskApim.fhirBaseUrl}/Patient`)).rejects.toBeInstanceOf(
      MissingScopeError,
    );
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(fhir()).toHaveLength(1);
  });

  test('withResearchStudy derives a strategy for another protocol that shares the token', async () => {
    const strategy = mskApim(options());
    const other = strategy.withResearchStudy('12-245');
    await Promise.all([
      sendThrough(strategy, `${sb.urls.mskApim.fhirBaseUrl}/Patient`),
      sendThrough(other, `${sb.urls.mskApim.fhirBaseUrl}/Patient`),
    ]);
    expect(
      fhir()
        .map((r) => r.query.researchstudy)
        .sort(),
    ).toEqual(['12-245', '17-001']);
    expect(new Set(fhir().map((r) => r.headers.authorization)).size).toBe(1);
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(other.tokens).toBe(strategy.tokens);
    expect(() => strategy.withResearchStudy('')).toThrow(/^researchStudy:/);
  });

  test('the token goes only to the API origin', async () => {
    const strategy = mskApim(options());
    await sendThrough(strategy, `${sb.urls.elsewhere}/fhir/Patient`);
    const [theirs] = sb.requests.filter((r) => r.listener === 'elsewhere');
    expect(theirs?.headers.authorization).toBeUndefined();
    expect(theirs?.query).toEqual({});
    expect(sb.tokenRequests()).toHaveLength(0);
  });

  test('a revoked token: the request is replayed once with a fresh token', async () => {
    const strategy = mskApim(options());
    await sendThrough(strategy, `${sb.urls.mskApim.fhirBaseUrl}/Patient`);
    const first = await strategy.tokens.peek();
    sb.revokeTokens();
    const response = await sendThrough(strategy, `${sb.urls.mskApim.fhirBaseUrl}/Patient`);
    expect(response.status).toBe(200);
    expect(fhir().map((r) => r.status)).toEqual([200, 401, 200]);
    expect((await strategy.tokens.peek())?.accessToken).not.toBe(first?.accessToken);
    expect(sb.tokenRequests()).toHaveLength(2);
  });

  test('expiry: a short-lived token is replaced; refresh-ahead runs in the background', async () => {
    const short = await startSandbox({ tokenLifetimeSeconds: { mskApim: 2 } });
    try {
      const refreshed: unknown[] = [];
      let landed!: () => void;
      const refreshLanded = new Promise<void>((resolve) => (landed = resolve));
      const strategy = mskApim(
        options({
          baseUrl: short.urls.mskApim.baseUrl,
          on: { tokenRefreshed: (e) => (refreshed.push(e), landed()) },
        }),
      );
      const t1 = await strategy.tokens.getToken();
      await new Promise((r) => setTimeout(r, 1_100)); // past half of 2 s: stale
      const t2 = await strategy.tokens.getToken();
      expect(t2.accessToken).toBe(t1.accessToken); // served at once
      await refreshLanded;
      const t3 = await strategy.tokens.getToken();
      expect(t3.accessToken).not.toBe(t1.accessToken);
      expect(refreshed).toEqual([expect.objectContaining({ reason: 'refresh-ahead' })]);
      expect(short.tokenRequests()).toHaveLength(2);
    } finally {
      await short.close();
    }
  });
});

describe('mskApim errors', () => {
  const secret = demoClients.mskApim.clientSecret;

  async function tokenError(extra: Partial<MskApimOptions> = {}): Promise<TokenEndpointError> {
    const error = await mskApim(options(extra))
      .tokens.getToken()
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    const rendered = [
      String(error),
      JSON.stringify(error),
      inspect(error, { depth: 8, showHidden: true }),
      (error as Error).stack,
    ].join('\n');
    expect(rendered).not.toContain(secret);
    expect(rendered).not.toContain('wrong-secret-value');
    return error as TokenEndpointError;
  }

  test('invalid_client: typed, not retried, the secret read again once when it is a function', async () => {
    let reads = 0;
    const error = await tokenError({
      clientSecret: () => {
        reads += 1;
        return 'wrong-secret-value';
      },
    });
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      status: 401,
      error: 'invalid_client',
    });
    expect(reads).toBe(2);
    expect(sb.tokenRequests()).toHaveLength(2);
  });

  test('a rotated secret is picked up after invalid_client without a restart', async () => {
    // The secret manager rotates between the two reads: the request fails with the old
    // secret, the function is read once more, and the same call succeeds.
    const reads = ['old-rotated-secret', secret];
    let read = 0;
    const strategy = mskApim(options({ clientSecret: () => reads[Math.min(read++, 1)]! }));
    await expect(strategy.tokens.getToken()).resolves.toBeDefined();
    expect(sb.tokenRequests().map((r) => r.status)).toEqual([401, 200]);
  });

  test('regression: after invalid_client the client is not asked again at once (negative caching)', async () => {
    const strategy = mskApim(options({ clientSecret: 'wrong-secret-value' }));
    await expect(strategy.tokens.getToken()).rejects.toMatchObject({ error: 'invalid_client' });
    const again = await strategy.tokens.getToken().then(
      () => new Error('got a token'),
      (e: unknown) => e as Error,
    );
    expect(again.message).toMatch(/not asking .* again until .*: it refused this client 1 time/);
    expect(sb.tokenRequests()).toHaveLength(1); // a string secret is not re-read, and not re-sent
  });

  test.each([
    ['5xx then success', [{ type: 'status', status: 503 }], 2],
    ['429 + Retry-After honoured', [{ type: 'rate-limit', retryAfterSeconds: 0 }], 2],
    ['reset then success', [{ type: 'reset' }], 2],
  ] as const)('%s', async (_name, faults, requests) => {
    for (const fault of faults) sb.inject('msk-token', fault, { times: 1 });
    await expect(mskApim(options()).tokens.getToken()).resolves.toBeDefined();
    expect(sb.tokenRequests()).toHaveLength(requests);
  });

  test.each([
    ['HTML gateway page', { type: 'html' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 502, 3],
    ['malformed JSON', { type: 'malformed-json' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 200, 1],
    ['missing access_token', { type: 'missing-access-token' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 200, 1],
    ['always 500', { type: 'status', status: 500 }, ErrorCodes.TOKEN_ENDPOINT_ERROR, 500, 3],
    ['connection reset', { type: 'reset' }, ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, undefined, 3],
  ] as const)('%s → %s after %i attempt(s)', async (_name, fault, code, status, attempts) => {
    sb.inject('msk-token', fault);
    const error = await tokenError();
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(sb.tokenRequests()).toHaveLength(attempts);
  });

  test('a hanging token endpoint becomes a timeout, never a hang', async () => {
    sb.inject('msk-token', { type: 'hang' });
    const error = await tokenError({ retry: { maxAttempts: 2, baseDelayMs: 1, attemptTimeoutMs: 100 } });
    expect(error.code).toBe(ErrorCodes.TOKEN_ENDPOINT_TIMEOUT);
    expect(sb.tokenRequests()).toHaveLength(2);
  });

  test('Retry-After longer than allowed fails at once with retryAfterMs', async () => {
    sb.inject('msk-token', { type: 'rate-limit', retryAfterSeconds: 120 });
    const error = await tokenError();
    expect(error).toMatchObject({ status: 429, retryAfterMs: 120_000 });
    expect(sb.tokenRequests()).toHaveLength(1);
  });

  test('the caller can abort while the token is fetched', async () => {
    sb.inject('msk-token', { type: 'hang' });
    await expect(
      sendThrough(mskApim(options()), `${sb.urls.mskApim.fhirBaseUrl}/Patient`, {
        signal: AbortSignal.timeout(50),
      }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(fhir()).toHaveLength(0);
  });
});

describe('mskApim options', () => {
  test.each([
    [{ baseUrl: 'http://apim.example.org' }, 'baseUrl'],
    [{ baseUrl: 'not a url' }, 'baseUrl'],
    [{ clientId: '' }, 'clientId'],
    [{ clientSecret: '' }, 'clientSecret'],
    [{ researchStudy: ' ' }, 'researchStudy'],
    [{ tokenPath: 'token' }, 'tokenPath'],
    [{ origins: [] }, 'origins'],
    [{ refresh: { skewMs: -1 } }, 'refresh.skewMs'],
  ])('%j fails at construction naming %s', (extra, option) => {
    expect(() => mskApim(options(extra as Partial<MskApimOptions>))).toThrow(
      new RegExp(`^${option.replace('.', '\\.')}:`),
    );
  });

  test('events count what happened; nothing secret in them', async () => {
    const seen: string[] = [];
    const on: AuthEvents = {
      tokenFetched: (e) => seen.push(JSON.stringify(e)),
      retry: (e) =>
        seen.push(JSON.stringify({ attempt: e.attempt, code: e.error.code, message: e.error.message })),
    };
    sb.inject('msk-token', { type: 'status', status: 502 }, { times: 1 });
    const token = await mskApim(options({ on })).tokens.getToken();
    expect(seen).toHaveLength(2);
    expect(seen.join('\n')).not.toContain(token.accessToken);
    expect(seen.join('\n')).not.toContain(demoClients.mskApim.clientSecret);
  });
});

describe('mskApim: every token endpoint fault of the shared table', () => {
  test.each(TOKEN_FAULT_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await expectTokenFault(c, sb, 'msk-token', mskApim(options({ retry: FAST_RETRY })).tokens);
  });
});
