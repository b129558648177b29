// The device authorization grant (RFC 8628) against oidc-provider, a standards-true
// authorization server: approval, denial and expiry done the way its verification page
// does them, slow_down injected (oidc-provider never sends it), every poll recorded with
// its arrival time.
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  ConfigError,
  ErrorCodes,
  TokenEndpointError,
  createAuthStrategy,
  createMemoryTokenStore,
  isTokenEndpointError,
} from '@authrail/core';
import { deviceAuthorization, type DeviceAuthorizationOptions, type DevicePrompt } from '@authrail/oauth2';
import { sendThrough, startOidcProvider, useSandbox, type OidcProviderHandle } from '@authrail/test-utils';

const CLIENT = 'research-cli';
const DEVICE_CLIENT = {
  client_id: CLIENT,
  token_endpoint_auth_method: 'none' as const,
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  redirect_uris: [],
};

/** Every way an error can be printed or shipped. */
function rendered(value: unknown): string {
  const e = value as Error;
  return [
    String(e),
    e.message,
    e.stack,
    JSON.stringify(e),
    inspect(e, { depth: 10, showHidden: true }),
    inspect(e.cause, { depth: 10, showHidden: true }),
  ].join('\n');
}

/** Timers alive in this process. */
const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;

/** Resolves when `count()` reaches `n` (the server saw that many requests). */
async function until(count: () => number, n: number): Promise<void> {
  while (count() < n) await new Promise((r) => setTimeout(r, 10));
}

let op: OidcProviderHandle; // interval 1 s, codes live 600 s
let slow: OidcProviderHandle; // no interval (5 s), codes live 2 s

beforeAll(async () => {
  op = await startOidcProvider({ clients: [DEVICE_CLIENT], deviceInterval: 1 });
  slow = await startOidcProvider({ clients: [DEVICE_CLIENT], deviceCodeTtl: 2 });
});
afterAll(async () => {
  await op?.close();
  await slow?.close();
});

/** A source on `server` whose prompts are collected and handed to `then` (approve, deny, abort). */
function source(
  server: OidcProviderHandle,
  then: (prompt: DevicePrompt) => void | Promise<void> = () => undefined,
  extra: Partial<DeviceAuthorizationOptions> = {},
) {
  const prompts: DevicePrompt[] = [];
  const device = deviceAuthorization({
    server: { issuer: server.issuer, discovery: true },
    clientId: CLIENT,
    scope: 'openid offline_access',
    onPrompt: (prompt) => {
      prompts.push(prompt);
      void then(prompt);
    },
    ...extra,
  });
  return { device, prompts };
}

const deviceRequests = (server: OidcProviderHandle) =>
  server.requests.filter((r) => r.path === '/device/auth');

describe('device authorization grant against oidc-provider', () => {
  test('sign in once, then refresh with the refresh token: the user is asked once', async () => {
    const { device, prompts } = source(op, (p) => op.approveDevice(p.userCode, 'alice'));
    const strategy = createAuthStrategy({ source: device, origins: [op.issuer] });
    const before = deviceRequests(op).length;
    const me = await sendThrough(strategy, `${op.issuer}/me`);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ sub: 'alice' });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatchObject({
      verificationUri: `${op.issuer}/device`,
      verificationUriComplete: `${op.issuer}/device?user_code=${prompts[0]!.userCode}`,
    });
    expect(prompts[0]!.expiresAt - Date.now()).toBeGreaterThan(590_000);
    const first = await strategy.tokens.getToken();
    expect(first.refreshToken).toBeDefined();
    // The API refused the token: the next one comes from the refresh token, nobody is asked.
    await strategy.tokens.invalidate(first);
    const second = await strategy.tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(prompts).toHaveLength(1);
    expect(deviceRequests(op).length - before).toBe(1);
    expect(op.tokenRequests().at(-1)!.form.get('grant_type')).toBe('refresh_token');
  });

  test('polling: slow_down, then authorization_pending, then tokens, at the intervals RFC 8628 sets', async () => {
    op.answerPendingPolls(['slow_down']);
    const polls = () => op.devicePolls().filter((r) => r.time >= started);
    const started = Date.now();
    const { device } = source(op, async (p) => {
      await until(() => polls().length, 2); // slow_down, then authorization_pending
      await op.approveDevice(p.userCode);
    });
    await device.fetchToken({});
    const asked = deviceRequests(op).at(-1)!.time;
    const times = [asked, ...polls().map((r) => r.time)];
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // interval 1 s; slow_down adds 5 s, to this wait and every later one.
    expect(gaps[0]).toBeGreaterThanOrEqual(950);
    expect(gaps[0]).toBeLessThan(3_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(5_950);
    expect(gaps[1]).toBeLessThan(8_500);
    expect(gaps[2]).toBeGreaterThanOrEqual(5_950);
    expect(gaps[2]).toBeLessThan(8_500);
  }, 30_000);

  test('access_denied: a typed error that says what happened, no retry, no new prompt', async () => {
    const { device, prompts } = source(op, (p) => op.denyDevice(p.userCode));
    const strategy = createAuthStrategy({
      source: device,
      origins: [op.issuer],
      retry: { maxAttempts: 3, baseDelayMs: 1 },
      logger: false,
    });
    const before = deviceRequests(op).length;
    const error = await strategy.tokens.getToken().catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      error: 'access_denied',
      status: 400,
      retryable: false,
    });
    expect((error as Error).message).toMatch(/denied.*start the sign-in again/);
    // Asked again at once: refused locally, the user is not shown another code.
    await expect(strategy.tokens.getToken()).rejects.toMatchObject({ error: 'access_denied' });
    expect(prompts).toHaveLength(1);
    expect(deviceRequests(op).length - before).toBe(1);
    const deviceCode = op.devicePolls().at(-1)!.form.get('device_code')!;
    expect(rendered(error)).not.toContain(deviceCode);
  });

  test('expired_token from the server: a typed error, and the sign-in ends', async () => {
    op.answerPendingPolls(['expired_token']);
    const { device } = source(op);
    const error = await device.fetchToken({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ error: 'expired_token', status: 400, retryable: false });
    expect((error as Error).message).toMatch(/expired before it was approved/);
    const deviceCode = op.devicePolls().at(-1)!.form.get('device_code')!;
    expect(rendered(error)).not.toContain(deviceCode);
  });

  test('its own deadline: at expires_in the sign-in ends as expired_token, without another poll', async () => {
    const { device } = source(slow);
    const began = Date.now();
    const error = await device.fetchToken({}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, error: 'expired_token' });
    expect((error as TokenEndpointError).status).toBeUndefined();
    expect(Date.now() - began).toBeLessThan(4_000); // the code lived 2 s; the interval is 5 s
    expect(slow.devicePolls()).toHaveLength(0);
  });

  test('abort while sleeping between polls: rejects at once, no poll, no timer left', async () => {
    const controller = new AbortController();
    const idle = timers();
    let abortedAt = 0;
    const { device } = source(slow, () => {
      setTimeout(() => {
        abortedAt = Date.now();
        controller.abort(new Error('user pressed Ctrl-C'));
      }, 100);
    });
    const polls = slow.devicePolls().length;
    const error = await device.fetchToken({ signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toEqual(new Error('user pressed Ctrl-C'));
    expect(Date.now() - abortedAt).toBeLessThan(300);
    expect(slow.devicePolls().length).toBe(polls);
    expect(timers()).toBeLessThanOrEqual(idle);
  });

  test('abort while a poll is in flight: rejects at once', async () => {
    const controller = new AbortController();
    op.delayTokenRequests(3_000); // the abort arrives while the poll waits for its answer
    // Counted on arrival: a poll's form is read only once the delay has passed.
    const arrived = op.tokenRequests().length;
    let abortedAt = 0;
    const { device } = source(op, async () => {
      await until(() => op.tokenRequests().length, arrived + 1);
      abortedAt = Date.now();
      controller.abort(new Error('cancelled'));
    });
    const error = await device.fetchToken({ signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toEqual(new Error('cancelled'));
    expect(abortedAt).toBeGreaterThan(0);
    expect(Date.now() - abortedAt).toBeLessThan(300);
  });

  test('createAuthStrategy waits for the user beyond retry.attemptTimeoutMs, and asks once', async () => {
    const { device, prompts } = source(op, async (p) => {
      await new Promise((r) => setTimeout(r, 1_200)); // the user takes longer than an attempt may
      await op.approveDevice(p.userCode);
    });
    const strategy = createAuthStrategy({
      source: device,
      origins: [op.issuer],
      retry: { attemptTimeoutMs: 300, maxAttempts: 3 },
    });
    const me = await sendThrough(strategy, `${op.issuer}/me`);
    expect(me.status).toBe(200);
    expect(prompts).toHaveLength(1);
  });

  test('the default prompt: one line on stderr with the page and the code, never the device code', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const device = deviceAuthorization({
        server: { issuer: op.issuer, discovery: true },
        clientId: CLIENT,
        scope: 'openid',
      });
      const signingIn = device.fetchToken({});
      await until(() => write.mock.calls.length, 1);
      const line = String(write.mock.calls[0]![0]);
      const userCode = /enter the code (\S+)\)/.exec(line)![1]!;
      await op.approveDevice(userCode);
      await signingIn;
      const deviceCode = op.devicePolls().at(-1)!.form.get('device_code')!;
      expect(line).toMatch(
        new RegExp(
          `^To sign in, open ${op.issuer}/device\\?user_code=\\S+ \\(or open ${op.issuer}/device and enter the code \\S+\\); the code expires in 10 minutes\\.\\n$`,
        ),
      );
      expect(line).not.toContain(deviceCode);
      expect(write.mock.calls).toHaveLength(1);
    } finally {
      write.mockRestore();
    }
  });

  test('tokens act for the user: a shared store needs session, and sessions are kept apart', async () => {
    const store = createMemoryTokenStore();
    const { device } = source(op);
    expect(() => createAuthStrategy({ source: device, origins: [op.issuer], store })).toThrow(
      expect.objectContaining({ option: 'session' }),
    );
    const alice = source(op, (p) => op.approveDevice(p.userCode, 'alice'), { session: 'alice' });
    const bob = source(op, (p) => op.approveDevice(p.userCode, 'bob'), { session: 'bob' });
    const forAlice = createAuthStrategy({ source: alice.device, origins: [op.issuer], store });
    const forBob = createAuthStrategy({ source: bob.device, origins: [op.issuer], store });
    expect(await (await sendThrough(forAlice, `${op.issuer}/me`)).json()).toEqual({ sub: 'alice' });
    expect(await (await sendThrough(forBob, `${op.issuer}/me`)).json()).toEqual({ sub: 'bob' });
    expect([alice.prompts.length, bob.prompts.length]).toEqual([1, 1]);
  });

  test('DPoP-bound tokens: the polls carry a proof, and so do the API requests', async () => {
    const { device } = source(op, (p) => op.approveDevice(p.userCode, 'carol'), { dpop: true });
    const strategy = createAuthStrategy({ source: device, origins: [op.issuer] });
    const me = await sendThrough(strategy, `${op.issuer}/me`);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ sub: 'carol' });
    expect((await strategy.tokens.getToken()).tokenType).toBe('DPoP');
    const lastPoll = op.devicePolls().at(-1)!;
    expect(lastPoll.headers.dpop).toEqual(expect.any(String));
  });

  test('an onPrompt that throws ends the sign-in with its error, before any poll', async () => {
    const polls = op.devicePolls().length;
    const { device } = source(op, undefined, {
      onPrompt: () => {
        throw new Error('no terminal');
      },
    });
    await expect(device.fetchToken({})).rejects.toThrow('no terminal');
    expect(op.devicePolls().length).toBe(polls);
  });

  test('no device code, refresh token or access token in inspect output', async () => {
    const { device } = source(op, (p) => op.approveDevice(p.userCode));
    const token = await device.fetchToken({});
    const deviceCode = op.devicePolls().at(-1)!.form.get('device_code')!;
    const shown = [
      inspect(device, { depth: 10, showHidden: true }),
      inspect(token, { depth: 10 }),
      JSON.stringify(token),
    ];
    for (const text of shown) {
      expect(text).not.toContain(deviceCode);
      expect(text).not.toContain(token.accessToken);
      expect(text).not.toContain(token.refreshToken!);
    }
  });
});

describe('device authorization options', () => {
  const base = { server: { issuer: 'https://auth.example.org', discovery: true as const }, clientId: CLIENT };

  test.each([
    [{ ...base, prompt: () => undefined }, 'prompt'],
    [{ ...base, onPrompt: 'stderr' }, 'onPrompt'],
    [{ ...base, session: '' }, 'session'],
    [{ ...base, scope: ['openid'] }, 'scope'],
    [{ ...base, clientId: '' }, 'clientId'],
    [{ ...base, parameters: { device_code: 'x' } }, 'parameters'],
    [{ ...base, resource: 'not a uri' }, 'resource'],
    [{ ...base, server: { issuer: 'http://auth.example.org', discovery: true } }, 'server.issuer'],
    [
      {
        ...base,
        server: {
          issuer: 'https://a.example',
          tokenEndpoint: 'https://a.example/token',
          deviceAuthorizationEndpoint: 'http://a.example/device',
        },
      },
      'server.deviceAuthorizationEndpoint',
    ],
  ])('%o is a ConfigError naming %s', (options, option) => {
    const thrown = (() => {
      try {
        deviceAuthorization(options as unknown as DeviceAuthorizationOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ option });
  });

  test('without process.stderr (a browser, a worker) onPrompt is required', () => {
    vi.stubGlobal('process', { ...process, stderr: undefined });
    try {
      expect(() => deviceAuthorization(base)).toThrow(expect.objectContaining({ option: 'onPrompt' }));
    } finally {
      vi.unstubAllGlobals();
    }
  });

  test('a server without a device authorization endpoint: a typed error, before anyone is asked', async () => {
    const prompts: DevicePrompt[] = [];
    const device = deviceAuthorization({
      server: { issuer: op.issuer, tokenEndpoint: `${op.issuer}/token` },
      clientId: CLIENT,
      onPrompt: (p) => void prompts.push(p),
    });
    await expect(device.fetchToken({})).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_RESPONSE_INVALID,
      message: expect.stringMatching(/no device_authorization_endpoint/),
    });
    expect(prompts).toHaveLength(0);
  });
});

describe('device authorization grant against the sandbox (Medblocks)', () => {
  const sb = useSandbox({ device: { intervalSeconds: 1 } });
  const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
  const onSandbox = (
    then: (prompt: DevicePrompt) => void,
    extra: Partial<DeviceAuthorizationOptions> = {},
  ) => {
    const prompts: DevicePrompt[] = [];
    const device = deviceAuthorization({
      server: { issuer: sb.urls.medblocks.baseUrl, discovery: true },
      clientId: 'medblocks-demo-cli',
      scope: 'openid offline_access user/*.read',
      onPrompt: (prompt) => {
        prompts.push(prompt);
        then(prompt);
      },
      ...extra,
    });
    return { device, prompts };
  };

  test('sign in, read FHIR, refresh: one code pair, no slow_down, one refresh', async () => {
    const { device, prompts } = onSandbox((p) => sb.approveDevice(p.userCode));
    const strategy = createAuthStrategy({ source: device, origins: [sb.url] });
    const patients = await sendThrough(strategy, `${sb.urls.medblocks.fhirBaseUrl}/Patient`);
    expect(patients.status).toBe(200);
    expect(prompts[0]).toMatchObject({ verificationUri: sb.urls.medblocks.deviceVerificationUri });
    await strategy.tokens.invalidate(await strategy.tokens.getToken());
    await strategy.tokens.getToken();
    expect(prompts).toHaveLength(1);
    expect(sb.requests.filter((r) => r.route === 'medblocks-device')).toHaveLength(1);
    const grants = sb.tokenRequests({ clientId: 'medblocks-demo-cli' }).map((r) => r.grantType);
    expect(grants).toEqual([DEVICE_GRANT, 'refresh_token']);
  });

  test('a 503 while polling: polling goes on, the wait doubled (RFC 8628 §3.5)', async () => {
    sb.inject('medblocks-token', { type: 'status', status: 503 }, { times: 1 });
    const { device } = onSandbox((p) => {
      void until(() => sb.tokenRequests().length, 1).then(() => sb.approveDevice(p.userCode));
    });
    await device.fetchToken({});
    const asked = sb.requests.find((r) => r.route === 'medblocks-device')!.time;
    const polls = sb.tokenRequests();
    expect(polls.map((r) => r.status)).toEqual([503, 200]);
    expect(polls[0]!.time - asked).toBeGreaterThanOrEqual(950);
    expect(polls[0]!.time - asked).toBeLessThan(1_900);
    expect(polls[1]!.time - polls[0]!.time).toBeGreaterThanOrEqual(1_950);
    expect(polls[1]!.time - polls[0]!.time).toBeLessThan(4_000);
  });

  test('a server that echoes what it was sent: the device code is in no error', async () => {
    sb.inject('medblocks-token', { type: 'echo-credentials' }, { times: 1 });
    const { device } = onSandbox(() => undefined);
    const error = await device.fetchToken({}).catch((e: unknown) => e);
    const deviceCode = new URLSearchParams(sb.tokenRequests()[0]!.body.toString()).get('device_code')!;
    expect(deviceCode.length).toBeGreaterThan(20);
    expect(error).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(rendered(error)).not.toContain(deviceCode);
  });
});
