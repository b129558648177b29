// Every preset against the same sandbox faults: the error a caller sees, and how many
// token requests it took, are the same whichever service a team talks to.
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import {
  ErrorCodes,
  isTokenEndpointError,
  type AuthEvents,
  type RetryOptions,
  type TokenAuthStrategy,
} from '@authrail/core';
import { medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { demoClients, startSandbox, type Fault, type Sandbox, type SandboxRoute } from '@authrail/sandbox';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

const retry: RetryOptions = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 300 };

type Make = (sandbox: Sandbox, on?: AuthEvents) => TokenAuthStrategy;
const presets: { name: string; route: SandboxRoute; secret: string; make: Make }[] = [
  {
    name: 'mskApim',
    route: 'msk-token',
    secret: demoClients.mskApim.clientSecret,
    make: (s, on = {}) =>
      mskApim({
        baseUrl: s.urls.mskApim.baseUrl,
        clientId: demoClients.mskApim.clientId,
        clientSecret: demoClients.mskApim.clientSecret,
        researchStudy: '17-001',
        retry,
        on,
      }),
  },
  {
    name: 'oktaClientCredentials',
    route: 'okta-token',
    secret: demoClients.okta.clientSecret,
    make: (s, on = {}) =>
      oktaClientCredentials({
        issuer: s.urls.okta.issuer,
        clientId: demoClients.okta.clientId,
        clientSecret: demoClients.okta.clientSecret,
        scope: 'ctrp.accrual',
        origins: [s.url],
        retry,
        on,
      }),
  },
  {
    name: 'medblocksClientCredentials',
    route: 'medblocks-token',
    secret: demoClients.medblocksBackend.clientSecret,
    make: (s, on = {}) =>
      medblocksClientCredentials({
        baseUrl: s.urls.medblocks.baseUrl,
        ...demoClients.medblocksBackend,
        retry,
        on,
      }),
  },
];

const recovering: [string, Fault, number][] = [
  ['one 503', { type: 'status', status: 503 }, 2],
  ['one 429 with Retry-After', { type: 'rate-limit', retryAfterSeconds: 0 }, 2],
  ['one connection reset', { type: 'reset' }, 2],
  ['one HTML gateway page', { type: 'html', status: 502 }, 2],
  ['one slow answer', { type: 'delay', ms: 50 }, 1],
];

const failing: [string, Fault, string, number | undefined, number][] = [
  ['always 500', { type: 'status', status: 500 }, ErrorCodes.TOKEN_ENDPOINT_ERROR, 500, 3],
  ['always an HTML page', { type: 'html' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 502, 3],
  ['malformed JSON', { type: 'malformed-json' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 200, 1],
  ['no access_token', { type: 'missing-access-token' }, ErrorCodes.TOKEN_RESPONSE_INVALID, 200, 1],
  ['always reset', { type: 'reset' }, ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, undefined, 3],
  ['hang', { type: 'hang' }, ErrorCodes.TOKEN_ENDPOINT_TIMEOUT, undefined, 3],
  [
    'Okta-shaped 401',
    { type: 'okta-error', status: 401, errorCode: 'E0000011', errorSummary: 'Invalid token provided' },
    ErrorCodes.TOKEN_ENDPOINT_ERROR,
    401,
    1,
  ],
  [
    'OAuth invalid_grant 400',
    {
      type: 'status',
      status: 400,
      body: JSON.stringify({ error: 'invalid_grant', error_description: 'no' }),
    },
    ErrorCodes.TOKEN_ENDPOINT_ERROR,
    400,
    1,
  ],
];

describe.each(presets)('$name', (preset) => {
  test.each(recovering)('recovers from %s', async (_name, fault, requests) => {
    sb.inject(preset.route, fault, { times: 1 });
    await expect(preset.make(sb).tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(sb.tokenRequests()).toHaveLength(requests);
  });

  test.each(failing)('%s → %s', async (_name, fault, code, status, requests) => {
    sb.inject(preset.route, fault);
    const error = await preset
      .make(sb)
      .tokens.getToken()
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code, status });
    expect(sb.tokenRequests()).toHaveLength(requests);
    const text = [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })].join(
      '\n',
    );
    expect(text).not.toContain(preset.secret);
  });

  test('a short-lived token is refreshed ahead of expiry, in the background', async () => {
    const own = await startSandbox({ tokenLifetimeSeconds: 2 });
    try {
      let landed!: () => void;
      const refreshed = new Promise<void>((resolve) => (landed = resolve));
      const strategy = preset.make(own, { tokenRefreshed: (e) => e.reason === 'refresh-ahead' && landed() });
      const first = await strategy.tokens.getToken();
      await new Promise((r) => setTimeout(r, 1_050)); // past half the lifetime: stale
      expect((await strategy.tokens.getToken()).accessToken).toBe(first.accessToken); // served at once
      await refreshed;
      expect((await strategy.tokens.getToken()).accessToken).not.toBe(first.accessToken);
      expect(own.tokenRequests().map((r) => r.status)).toEqual([200, 200]);
    } finally {
      await own.close();
    }
  });
});
