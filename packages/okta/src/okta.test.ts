import { inspect } from 'node:util';
import { describe, expect, test, vi } from 'vitest';
import { ErrorCodes, isTokenEndpointError, type TokenEndpointError } from '@authrail/core';
import { demoClients, startSandbox } from '@authrail/sandbox';
import {
  oktaClientCredentials,
  oktaErrorDetails,
  oktaTokenEndpoint,
  type OktaClientCredentialsOptions,
} from '@authrail/okta';
import {
  FAST_RETRY,
  TOKEN_FAULT_CASES,
  expectTokenFault,
  sendThrough,
  useSandbox,
} from '@authrail/test-utils';

const sb = useSandbox();

const options = (extra: Partial<OktaClientCredentialsOptions> = {}): OktaClientCredentialsOptions => ({
  issuer: sb.urls.okta.issuer,
  clientId: demoClients.okta.clientId,
  clientSecret: demoClients.okta.clientSecret,
  scope: 'ctrp.accrual',
  origins: [sb.url],
  retry: { baseDelayMs: 1, maxDelayMs: 5 },
  ...extra,
});
const accrual = () => `${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123`;

async function failure(extra: Partial<OktaClientCredentialsOptions> = {}): Promise<TokenEndpointError> {
  const error = await oktaClientCredentials(options(extra))
    .tokens.getToken()
    .catch((e: unknown) => e);
  expect(isTokenEndpointError(error)).toBe(true);
  const text = [String(error), JSON.stringify(error), inspect(error, { depth: 8, showHidden: true })].join(
    '\n',
  );
  expect(text).not.toContain(demoClients.okta.clientSecret);
  expect(text).not.toContain(
    Buffer.from(`${demoClients.okta.clientId}:${demoClients.okta.clientSecret}`).toString('base64'),
  );
  return error as TokenEndpointError;
}

describe('oktaClientCredentials', () => {
  test('Basic client auth, Accept: application/json, {issuer}/v1/token; the CTRP accrual PUT with XML goes through', async () => {
    const strategy = oktaClientCredentials(options());
    const response = await sendThrough(strategy, accrual(), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/xml' },
      body: '<accrual><studySubject/></accrual>',
    });
    expect(response.status).toBe(200);
    expect((await strategy.tokens.peek())?.scope).toBe('ctrp.accrual');
    const [tokenRequest] = sb.tokenRequests({ service: 'okta' });
    expect(tokenRequest).toMatchObject({
      clientAuth: 'client_secret_basic',
      grantType: 'client_credentials',
      path: '/oauth2/default/v1/token',
    });
    expect(tokenRequest!.headers.accept).toContain('application/json');
    expect(new URLSearchParams(tokenRequest!.body.toString()).has('client_secret')).toBe(false);
  });

  test("the token goes only to the listed API origins; by default to the issuer's origin", async () => {
    const carried = () =>
      sb.resourceRequests({ route: 'ctrp-accrual' }).map((r) => r.headers.authorization !== undefined);
    await sendThrough(oktaClientCredentials(options({ origins: ['https://ctrp.example.org'] })), accrual());
    expect(carried()).toEqual([false]);
    await sendThrough(oktaClientCredentials({ ...options(), origins: undefined }), accrual());
    expect(carried()).toEqual([false, true]); // the sandbox's API shares the issuer's origin
    expect(sb.tokenRequests()).toHaveLength(1);
  });

  test("regression (issue 9 #11): the default origins (Okta's own) are said at construction, as the first log line", () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(m), debug: (m: string) => lines.push(m) };
    oktaClientCredentials({ ...options(), origins: undefined, logger });
    expect(lines).toEqual([
      expect.stringMatching(
        /^authrail: oktaClientCredentials was given no origins, so only http:\/\/127\.0\.0\.1:\d+ \(Okta itself\) gets the token; .* pass origins/,
      ),
    ]);
    lines.length = 0;
    oktaClientCredentials(options({ logger }));
    expect(lines).toEqual([]);
  });

  test('regression (issue 23): with no logger the default origins are said on console.warn; logger: false says nothing', () => {
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      oktaClientCredentials({ ...options(), origins: undefined });
      expect(warned.mock.calls).toEqual([
        [
          expect.stringMatching(
            /^authrail: oktaClientCredentials was given no origins, .*\(logger: false silences this\)$/,
          ),
        ],
      ]);
      warned.mockClear();
      oktaClientCredentials({ ...options(), origins: undefined, logger: false });
      expect(warned).not.toHaveBeenCalled();
    } finally {
      warned.mockRestore();
    }
  });

  test.each([
    ['https://nci.okta.com/oauth2/aus123', 'https://nci.okta.com/oauth2/aus123/v1/token'],
    ['https://nci.okta.com/oauth2/default/', 'https://nci.okta.com/oauth2/default/v1/token'],
    ['https://nci.okta.com', 'https://nci.okta.com/oauth2/v1/token'],
  ])('token endpoint of %s is %s', (issuer, endpoint) => {
    expect(oktaTokenEndpoint(issuer)).toBe(endpoint);
  });

  test('both Okta error shapes normalise into the same fields', async () => {
    const invalidClient = await failure({ clientSecret: 'wrong-okta-secret' });
    expect(invalidClient).toMatchObject({
      status: 401,
      error: 'invalid_client',
      errorDescription: expect.stringContaining('Client authentication failed'),
    });
    const scope = await failure({ scope: 'admin' });
    expect(scope).toMatchObject({ status: 400, error: 'invalid_scope' });
    const notFound = await failure({ issuer: `${sb.url}/oauth2/aus-missing` });
    expect(notFound).toMatchObject({
      status: 404,
      error: 'E0000007',
      errorDescription: expect.stringContaining('aus-missing'),
    });
    expect(oktaErrorDetails(notFound)).toEqual({
      errorCode: 'E0000007',
      errorSummary: expect.stringContaining('aus-missing'),
      errorLink: expect.any(String),
      errorId: expect.stringMatching(/^oae/),
      errorCauses: [],
    });
    expect(oktaErrorDetails(invalidClient)).toBeUndefined(); // the OAuth shape
    sb.inject('okta-token', {
      type: 'okta-error',
      status: 400,
      errorCode: 'E0000021',
      errorSummary: 'Bad request. Accept and/or Content-Type headers likely do not match supported values.',
    });
    const shape = await failure();
    expect(shape).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      status: 400,
      error: 'E0000021',
      errorDescription: expect.stringContaining('Bad request'),
    });
  });

  test("a 429 with Okta's X-Rate-Limit-Reset and no Retry-After: the preset reads the wait, and it is remembered", async () => {
    sb.inject('okta-token', { type: 'rate-limit', retryAfterSeconds: 600, form: 'okta-reset' }, { times: 1 });
    const strategy = oktaClientCredentials(options());
    const first = (await strategy.tokens.getToken().catch((e: unknown) => e)) as TokenEndpointError;
    expect(first).toMatchObject({ status: 429 });
    expect(first.retryAfterMs).toBeGreaterThan(590_000);
    expect(first.retryAfterMs).toBeLessThanOrEqual(601_000);
    await expect(strategy.tokens.getToken()).rejects.toThrow(/not asking .* again until /);
    expect(sb.tokenRequests()).toHaveLength(1); // the second call was refused locally
  });

  test('regression (issue 22): dpop: true sends DPoP-bound tokens with a proof on every request', async () => {
    const own = await startSandbox({ dpopNonces: false });
    try {
      const strategy = oktaClientCredentials(
        options({ issuer: own.urls.okta.issuer, origins: [own.url], dpop: true }),
      );
      expect(strategy.tokens.dpop).toBeDefined();
      const url = `${own.urls.ctrp.baseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123`;
      const response = await sendThrough(strategy, url, {
        method: 'PUT',
        headers: { 'content-type': 'application/xml' },
        body: '<accrual/>',
      });
      expect(response.status).toBeLessThan(300);
      const [sent] = own.resourceRequests({ route: 'ctrp-accrual' });
      expect(sent?.headers.authorization).toMatch(/^DPoP /);
      expect(sent?.headers.dpop).toBeDefined();
    } finally {
      await own.close();
    }
  });

  test('invalid_grant 400 is typed and not retried', async () => {
    sb.inject('okta-token', {
      type: 'status',
      status: 400,
      body: JSON.stringify({ error: 'invalid_grant', error_description: 'The grant is invalid' }),
    });
    const error = await failure();
    expect(error).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(sb.tokenRequests()).toHaveLength(1);
  });

  test.each([
    ['30 min', 1800],
    ['8 h', 8 * 3600],
  ])('a %s token is cached for its lifetime', async (_name, lifetime) => {
    const own = await startSandbox({ tokenLifetimeSeconds: { okta: lifetime } });
    try {
      const strategy = oktaClientCredentials(options({ issuer: own.urls.okta.issuer }));
      const token = await strategy.tokens.getToken();
      expect(token.expiresAt! - token.issuedAt).toBe(lifetime * 1000);
      await Promise.all(Array.from({ length: 50 }, () => strategy.tokens.getToken()));
      expect(own.tokenRequests()).toHaveLength(1);
    } finally {
      await own.close();
    }
  });

  test('http: issuers are refused except loopback', () => {
    expect(() => oktaClientCredentials(options({ issuer: 'http://nci.okta.com/oauth2/default' }))).toThrow(
      /^issuer: must be an https: URL/,
    );
  });
});

describe('oktaClientCredentials: every token endpoint fault of the shared table', () => {
  test.each(TOKEN_FAULT_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await expectTokenFault(c, sb, 'okta-token', oktaClientCredentials(options({ retry: FAST_RETRY })).tokens);
  });
});
