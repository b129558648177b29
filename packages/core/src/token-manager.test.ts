import { describe, expect, test, vi } from 'vitest';
import fc from 'fast-check';
import type { TokenEndpointError } from '@authrail/core';
import {
  ConfigError,
  ErrorCodes,
  createMemoryTokenStore,
  createToken,
  createTokenManager,
  isTokenEndpointError,
  type AuthEvents,
  type Token,
  type TokenStore,
} from '@authrail/core';
import { SECRET, fakeSource, manualClock, settle } from '../../test-utils/src/fake-source.js';
import { backoffDelay } from './attempts.js';
import { DEFAULT_REFRESH, tokenRules, type RefreshOptions } from './token-rules.js';

/** Where a token stands by the three rules; exactly one of them holds at any moment. */
function classifyToken(token: Token, now: number, refresh: Required<RefreshOptions>) {
  const rules = tokenRules(refresh);
  const held = [rules.isFresh(token, now), rules.isStale(token, now), rules.isExpired(token, now)];
  expect(held.filter(Boolean)).toHaveLength(1);
  return held[0] ? 'fresh' : held[1] ? 'stale' : 'expired';
}

function recorder() {
  const events: { name: keyof AuthEvents; event: unknown }[] = [];
  const on: AuthEvents = {
    tokenFetched: (event) => events.push({ name: 'tokenFetched', event }),
    tokenRefreshed: (event) => events.push({ name: 'tokenRefreshed', event }),
    retry: (event) => events.push({ name: 'retry', event }),
    error: (event) => events.push({ name: 'error', event }),
  };
  return { events, on, count: (name: keyof AuthEvents) => events.filter((e) => e.name === name).length };
}

const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000 };

describe('single flight', () => {
  test('10,000 concurrent getToken calls on a cold cache cause exactly 1 token request', async () => {
    const source = fakeSource(Date.now, { kind: 'token', lifetimeS: 3600, delayMs: 5 });
    const tokens = createTokenManager({ source });
    const results = await Promise.all(Array.from({ length: 10_000 }, () => tokens.getToken()));
    expect(source.calls).toHaveLength(1);
    expect(new Set(results.map((t) => t.accessToken)).size).toBe(1);
  });

  test('10,000 concurrent callers at the moment of expiry cause exactly 1 refresh', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 60, delayMs: 2 });
    const tokens = createTokenManager({ source, now: clock.now });
    const first = await tokens.getToken();
    clock.set(first.expiresAt!); // exactly at expiry
    const results = await Promise.all(Array.from({ length: 10_000 }, () => tokens.getToken()));
    expect(source.calls).toHaveLength(2);
    expect(results.every((t) => t.accessToken !== first.accessToken)).toBe(true);
    expect(new Set(results.map((t) => t.accessToken)).size).toBe(1);
  });

  test('a late invalidate of an old token does not discard the newer one', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 60 });
    const tokens = createTokenManager({ source, now: clock.now });
    const old = await tokens.getToken();
    await tokens.invalidate(old);
    const fresh = await tokens.getToken();
    expect(fresh.accessToken).not.toBe(old.accessToken);
    await tokens.invalidate(old); // a 401 for the old token arriving late
    expect((await tokens.getToken()).accessToken).toBe(fresh.accessToken);
    expect(source.calls).toHaveLength(2);
  });

  test('concurrent invalidations of the same token cause one new token request', async () => {
    const source = fakeSource();
    const tokens = createTokenManager({ source });
    const old = await tokens.getToken();
    await Promise.all(Array.from({ length: 100 }, () => tokens.invalidate(old)));
    const next = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()));
    expect(source.calls).toHaveLength(2);
    expect(new Set(next.map((t) => t.accessToken)).size).toBe(1);
  });

  test('an async store (such as Redis) keeps single flight', async () => {
    const memory = createMemoryTokenStore();
    const slowStore = {
      get: async (key: string) => {
        await new Promise((r) => setTimeout(r, 1));
        return memory.get(key);
      },
      set: async (key: string, token: Token) => {
        await new Promise((r) => setTimeout(r, 1));
        await memory.set(key, token);
      },
      delete: async (key: string, token?: Token) => memory.delete(key, token),
    };
    const source = fakeSource(Date.now, { kind: 'token', lifetimeS: 3600, delayMs: 3 });
    const tokens = createTokenManager({ source, store: slowStore });
    await Promise.all(Array.from({ length: 1_000 }, () => tokens.getToken()));
    expect(source.calls).toHaveLength(1);
  });
});

describe('refresh ahead of expiry', () => {
  test('defaults: 10 s skew and 5 min refresh-ahead, scaled down for short-lived tokens', () => {
    expect(DEFAULT_REFRESH).toEqual({ skewMs: 10_000, refreshAheadMs: 300_000 });
    const hour = createToken({ accessToken: 'a', expiresIn: 3600, issuedAt: 0 });
    expect(classifyToken(hour, 3_600_000 - 300_001, DEFAULT_REFRESH)).toBe('fresh');
    expect(classifyToken(hour, 3_600_000 - 300_000, DEFAULT_REFRESH)).toBe('stale');
    expect(classifyToken(hour, 3_600_000 - 10_001, DEFAULT_REFRESH)).toBe('stale');
    expect(classifyToken(hour, 3_600_000 - 10_000, DEFAULT_REFRESH)).toBe('expired');
    const minute = createToken({ accessToken: 'a', expiresIn: 60, issuedAt: 0 });
    expect(classifyToken(minute, 29_999, DEFAULT_REFRESH)).toBe('fresh');
    expect(classifyToken(minute, 30_000, DEFAULT_REFRESH)).toBe('stale');
    expect(classifyToken(minute, 54_000, DEFAULT_REFRESH)).toBe('expired');
    const noExpiry = createToken({ accessToken: 'a' });
    expect(classifyToken(noExpiry, Number.MAX_SAFE_INTEGER, DEFAULT_REFRESH)).toBe('fresh');
  });

  test('property: a token is never served at or past expiresAt - skew, and is fresh before the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 * 3600 }), // lifetime s (Okta: 30 min to 8 h; MSK 1 h; short-lived too)
        fc.integer({ min: 0, max: 120_000 }), // skewMs
        fc.integer({ min: 0, max: 900_000 }), // refreshAheadMs
        fc.double({ min: 0, max: 1.2, noNaN: true }), // point in the lifetime
        (lifetimeS, skewMs, refreshAheadMs, at) => {
          const token = createToken({ accessToken: 't', expiresIn: lifetimeS, issuedAt: 1_000 });
          const now = 1_000 + Math.floor(at * lifetimeS * 1000);
          const state = classifyToken(token, now, { skewMs, refreshAheadMs });
          const skew = Math.min(skewMs, lifetimeS * 1000 * 0.1);
          if (now >= token.expiresAt! - skew) expect(state).toBe('expired');
          else expect(state).not.toBe('expired');
          if (state === 'stale')
            expect(now).toBeGreaterThanOrEqual(token.expiresAt! - Math.max(skew, refreshAheadMs));
        },
      ),
    );
  });

  test('across many simulated lifetimes no caller gets an expired token and none waits while a valid one exists', async () => {
    const clock = manualClock();
    const lifetimeS = 120;
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS });
    const r = recorder();
    const tokens = createTokenManager({ source, now: clock.now, on: r.on });
    await tokens.getToken(); // warm up: the only time a caller waits
    let waited = 0;
    let served = 0;
    // 50 lifetimes, a request every 1.5 s of simulated time.
    for (let t = 0; t < 50 * lifetimeS * 1000; t += 1_500) {
      clock.advance(1_500);
      let resolved = false;
      const pending = tokens.getToken().then((token) => {
        resolved = true;
        return token;
      });
      await Promise.resolve();
      await Promise.resolve();
      await Promise.resolve();
      if (!resolved) waited += 1;
      const token = await pending;
      served += 1;
      expect(token.expiresAt! - clock.now()).toBeGreaterThan(0);
      expect(classifyToken(token, clock.now(), DEFAULT_REFRESH)).not.toBe('expired');
      await settle(1); // let the background refresh land, as real time would
    }
    expect(served).toBe(4000);
    expect(waited).toBe(0);
    expect(r.count('tokenRefreshed')).toBeGreaterThanOrEqual(49);
    expect(
      r.events
        .filter((e) => e.name === 'tokenRefreshed')
        .every((e) => (e.event as { reason: string }).reason === 'refresh-ahead'),
    ).toBe(true);
  });

  test('a stale token is served at once while one background refresh runs', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 3600 });
    const tokens = createTokenManager({ source, now: clock.now });
    const first = await tokens.getToken();
    source.fallback = { kind: 'token', lifetimeS: 3600, delayMs: 20 };
    clock.advance(3_600_000 - 200_000); // inside the 5 min window
    const during = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()));
    expect(during.every((t) => t.accessToken === first.accessToken)).toBe(true);
    expect(source.calls).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 40));
    expect((await tokens.getToken()).accessToken).not.toBe(first.accessToken);
  });

  test('a failed background refresh keeps the current token and backs off', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 3600 });
    const r = recorder();
    const tokens = createTokenManager({
      source,
      now: clock.now,
      on: r.on,
      retry: { ...fastRetry, maxAttempts: 1 },
    });
    const first = await tokens.getToken();
    source.fallback = { kind: 'fail', status: 503 };
    clock.advance(3_600_000 - 100_000);
    expect((await tokens.getToken()).accessToken).toBe(first.accessToken);
    await settle();
    expect(r.events.find((e) => e.name === 'error')?.event).toMatchObject({ phase: 'background-refresh' });
    // Within the cooldown no new refresh is started for every request.
    for (let i = 0; i < 10; i++) expect((await tokens.getToken()).accessToken).toBe(first.accessToken);
    await settle();
    expect(source.calls).toHaveLength(2);
  });

  test("a caller joining a failing background refresh turns it into its own: ref'd timers, phase token", async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 3600 });
    const r = recorder();
    const tokens = createTokenManager({
      source,
      now: clock.now,
      on: r.on,
      random: () => 0.99,
      retry: { maxAttempts: 2, baseDelayMs: 150, maxDelayMs: 150, attemptTimeoutMs: 2_000 },
    });
    await tokens.getToken();
    source.fallback = { kind: 'fail', status: 503 };
    clock.advance(3_600_000 - 100_000); // stale: a background refresh starts, fails, backs off
    await tokens.getToken();
    await settle();
    const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    const whileBackground = timers(); // the backoff timer is unref'd: it keeps nothing alive
    clock.advance(100_000); // expired: the next caller must wait, and joins the same flight
    const waiting = tokens.getToken();
    expect(timers()).toBe(whileBackground + 1); // …so the backoff timer now keeps the process alive
    await expect(waiting).rejects.toMatchObject({ status: 503 });
    expect(source.calls).toHaveLength(3); // joined, not restarted
    expect(
      r.events.filter((e) => e.name === 'error').map((e) => (e.event as { phase: string }).phase),
    ).toEqual(['token']);
  });

  test('a read that raced a write reads again instead of fetching (async stores)', async () => {
    const memory = createMemoryTokenStore();
    // Each read answers with what the store held when it began, 5 ms later.
    const laggingStore = {
      get: async (key: string) => {
        const snapshot = memory.get(key);
        await new Promise((r) => setTimeout(r, 5));
        return snapshot;
      },
      set: (key: string, token: Token) => memory.set(key, token),
      delete: (key: string, token?: Token) => memory.delete(key, token),
    };
    const source = fakeSource();
    const tokens = createTokenManager({ source, store: laggingStore });
    await tokens.peek(); // the store key is ready
    const given = createToken({ accessToken: 'written-meanwhile', expiresIn: 600 });
    const reading = tokens.getToken(); // its first read will see an empty store…
    await tokens.setToken(given); // …because this write lands while it reads
    expect((await reading).accessToken).toBe('written-meanwhile');
    expect(source.calls).toHaveLength(0);
  });

  test('uses the refresh token when the held token has one, and the primary grant when it is refused', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 60, refreshToken: 'rt-1' });
    const r = recorder();
    const tokens = createTokenManager({ source, now: clock.now, on: r.on });
    await tokens.getToken();
    clock.advance(60_000);
    await tokens.getToken();
    expect(source.calls[1]?.refreshToken).toBe('rt-1');
    expect(r.events.at(-1)?.event).toMatchObject({ grant: 'refresh_token', reason: 'expired' });
    clock.advance(60_000);
    source.steps.push({ kind: 'fail', status: 400, error: 'invalid_grant' });
    await tokens.getToken();
    expect(source.calls[2]?.refreshToken).toBe('rt-1');
    expect(source.calls[3]?.refreshToken).toBeUndefined();
  });
});

describe('failures', () => {
  test('network errors, 429 and 5xx are retried with backoff, then surface typed', async () => {
    const source = fakeSource();
    source.steps.push(
      { kind: 'network' },
      { kind: 'fail', status: 503 },
      { kind: 'fail', status: 429, retryAfterMs: 3 },
    );
    const r = recorder();
    const tokens = createTokenManager({ source, on: r.on, retry: { ...fastRetry, maxAttempts: 4 } });
    await expect(tokens.getToken()).resolves.toBeDefined();
    expect(source.calls).toHaveLength(4);
    const retries = r.events
      .filter((e) => e.name === 'retry')
      .map((e) => e.event as { attempt: number; delayMs: number });
    expect(retries.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(retries[2]?.delayMs).toBe(3); // Retry-After honoured
  });

  test('the attempts are bounded: after maxAttempts the last error reaches the caller', async () => {
    const source = fakeSource(Date.now, { kind: 'fail', status: 502 });
    const tokens = createTokenManager({ source, retry: { ...fastRetry, maxAttempts: 3 } });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect((error as TokenEndpointError).status).toBe(502);
    expect(source.calls).toHaveLength(3);
  });

  test.each([
    [400, 'invalid_grant'],
    [401, 'invalid_client'],
    [403, 'unauthorized_client'],
  ])('%i %s is not retried', async (status, error) => {
    const source = fakeSource(Date.now, { kind: 'fail', status, error });
    const tokens = createTokenManager({ source, retry: fastRetry });
    await expect(tokens.getToken()).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      status,
      error,
    });
    expect(source.calls).toHaveLength(1);
  });

  test('a malformed token response is not retried', async () => {
    const source = fakeSource(Date.now, {
      kind: 'fail',
      status: 200,
      code: ErrorCodes.TOKEN_RESPONSE_INVALID,
    });
    const tokens = createTokenManager({ source, retry: fastRetry });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID });
    expect(source.calls).toHaveLength(1);
  });

  test('a Retry-After longer than maxRetryAfterMs fails at once instead of waiting', async () => {
    const source = fakeSource(Date.now, { kind: 'fail', status: 429, retryAfterMs: 3_600_000 });
    const tokens = createTokenManager({ source, retry: fastRetry });
    await expect(tokens.getToken()).rejects.toMatchObject({ status: 429, retryAfterMs: 3_600_000 });
    expect(source.calls).toHaveLength(1);
  });

  test('a hanging token endpoint becomes a timeout error per attempt, never a hang', async () => {
    const source = fakeSource(Date.now, { kind: 'hang' });
    const tokens = createTokenManager({
      source,
      retry: { ...fastRetry, attemptTimeoutMs: 20, maxAttempts: 2 },
    });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT });
    expect(source.calls).toHaveLength(2);
    expect(source.calls.every((c) => c.signal?.aborted)).toBe(true);
  });

  test('a network error is wrapped as unreachable, with the secret scrubbed from message and cause', async () => {
    const source = fakeSource(Date.now, { kind: 'network' });
    const tokens = createTokenManager({ source, retry: { ...fastRetry, maxAttempts: 1 } });
    const error = (await tokens.getToken().catch((e: unknown) => e)) as TokenEndpointError;
    expect(error.code).toBe(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE);
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('could not reach token endpoint https://auth.example.org/oauth2/token');
    expect(String((error.cause as Error).message)).toContain('[redacted]');
    expect(String((error.cause as Error).stack)).not.toContain(SECRET);
  });

  test('a failure is shared by all waiting callers and leaves no unhandled rejection; the next call tries again', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const source = fakeSource();
      source.steps.push({ kind: 'fail', status: 503 });
      const tokens = createTokenManager({ source, retry: { ...fastRetry, maxAttempts: 1 } });
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => tokens.getToken()));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      expect(source.calls).toHaveLength(1);
      await expect(tokens.getToken()).resolves.toBeDefined();
      await settle();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('backoff grows exponentially with full jitter, capped', () => {
    const retry = {
      maxAttempts: 9,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      maxRetryAfterMs: 0,
      attemptTimeoutMs: 1,
      failureCooldownMs: 0,
    };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, retry, () => 0.999999))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelay(3, retry, () => 0)).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (attempt, rnd) => {
          const d = backoffDelay(attempt, retry, () => rnd);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(1_000);
        },
      ),
    );
  });
});

describe('hardening: no wedge, no amplification (issue 9)', () => {
  test('regression: a source that never settles, even aborted (a stalled gzip body), ends at the attempt deadline; the next call asks again', async () => {
    const source = fakeSource();
    source.steps.push({ kind: 'wedge' }, { kind: 'wedge' });
    const tokens = createTokenManager({
      source,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, attemptTimeoutMs: 50 },
    });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT });
    expect(source.calls).toHaveLength(2);
    expect(source.calls.every((c) => c.signal?.aborted)).toBe(true);
    await expect(tokens.getToken()).resolves.toBeDefined(); // the in-flight slot was freed
    expect(source.calls).toHaveLength(3);
  });

  test('regression: a Retry-After longer than we wait is remembered: refused locally until then, saying so', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now);
    source.steps.push({ kind: 'fail', status: 429, retryAfterMs: 3_600_000 });
    const tokens = createTokenManager({ source, now: clock.now, retry: fastRetry });
    await expect(tokens.getToken()).rejects.toMatchObject({ status: 429, retryAfterMs: 3_600_000 });
    clock.advance(600_000);
    const refused = await tokens.getToken().catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      status: 429,
      retryAfterMs: 3_000_000,
    });
    expect((refused as Error).message).toMatch(
      /not asking .* again until 2026-01-01T01:00:00\.000Z \(3000 s\): the server asked to wait/,
    );
    expect(source.calls).toHaveLength(1);
    clock.advance(3_000_000);
    await expect(tokens.getToken()).resolves.toBeDefined();
    expect(source.calls).toHaveLength(2);
  });

  test('regression: a refused client (invalid_client) is not asked again for a short, doubling while', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'fail', status: 401, error: 'invalid_client' });
    const tokens = createTokenManager({
      source,
      now: clock.now,
      retry: { ...fastRetry, failureCooldownMs: 5_000 },
    });
    const attempt = () =>
      tokens.getToken().then(
        () => new Error('got a token'),
        (e: unknown) => e as Error,
      );
    expect(await attempt()).toMatchObject({ error: 'invalid_client' });
    for (let i = 0; i < 20; i += 1)
      expect((await attempt()).message).toMatch(/refused this client 1 time\(s\) in a row/);
    expect(source.calls).toHaveLength(1);
    clock.advance(5_000);
    expect((await attempt()).message).not.toMatch(/not asking/); // asked again: refused again
    expect(source.calls).toHaveLength(2);
    clock.advance(9_000);
    expect((await attempt()).message).toMatch(/until .* \(1 s\): it refused this client 2 time\(s\)/); // 10 s now
    clock.advance(1_000);
    source.fallback = { kind: 'token', lifetimeS: 3600 };
    await expect(tokens.getToken()).resolves.toBeDefined();
    expect(source.calls).toHaveLength(3);
  });

  test('regression: when every caller waiting for a hanging endpoint has aborted, the shared request is aborted', async () => {
    const source = fakeSource(Date.now, { kind: 'hang' });
    const tokens = createTokenManager({ source, retry: { maxAttempts: 3, attemptTimeoutMs: 60_000 } });
    // Aborted by hand, once the request is under way: timers could fire before it starts.
    const [callerA, callerB] = [new AbortController(), new AbortController()];
    const a = tokens.getToken({ signal: callerA.signal });
    const b = tokens.getToken({ signal: callerB.signal });
    await vi.waitFor(() => expect(source.calls).toHaveLength(1));
    callerA.abort(new DOMException('a gave up', 'TimeoutError'));
    await expect(a).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(source.calls[0]?.signal?.aborted).toBe(false); // b still waits
    callerB.abort(new DOMException('b gave up', 'TimeoutError'));
    await expect(b).rejects.toMatchObject({ name: 'TimeoutError' });
    await settle();
    expect(source.calls[0]?.signal?.aborted).toBe(true); // nobody waits: the request is given up…
    expect(source.calls).toHaveLength(1); // …without another attempt
    source.fallback = { kind: 'token', lifetimeS: 3600 };
    await expect(tokens.getToken()).resolves.toBeDefined(); // and the next caller starts afresh
  });

  test('a failed token request says on its error event how long it took, from its first attempt', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'fail', status: 400, error: 'invalid_client' });
    const fetchToken = source.fetchToken.bind(source);
    source.fetchToken = (options) => {
      clock.advance(700); // each attempt takes 0.7 s on the manager's clock
      return fetchToken(options);
    };
    const r = recorder();
    const tokens = createTokenManager({ source, now: clock.now, on: r.on, retry: fastRetry });
    await expect(tokens.getToken()).rejects.toMatchObject({ error: 'invalid_client' });
    expect(source.calls.length).toBeGreaterThan(0);
    expect(r.events.find((e) => e.name === 'error')?.event).toMatchObject({
      phase: 'token',
      durationMs: 700 * source.calls.length,
    });
  });

  test('a refresh ahead of expiry is not aborted for want of waiters, and keeps nothing alive', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now);
    const tokens = createTokenManager({ source, now: clock.now, retry: { attemptTimeoutMs: 60_000 } });
    await tokens.getToken();
    source.fallback = { kind: 'hang' };
    const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    const before = timers();
    clock.advance(3_600_000 - 100_000); // stale: a background refresh starts and hangs
    await tokens.getToken();
    await settle();
    expect(source.calls).toHaveLength(2);
    expect(source.calls[1]?.signal?.aborted).toBe(false);
    expect(timers()).toBe(before); // its deadline timer is unref'd
  });
});

describe('abort', () => {
  test("a caller's abort ends its wait without poisoning the shared fetch for others", async () => {
    const source = fakeSource(Date.now, { kind: 'token', lifetimeS: 3600, delayMs: 30 });
    const tokens = createTokenManager({ source });
    const controller = new AbortController();
    const aborted = tokens.getToken({ signal: controller.signal });
    const other = tokens.getToken();
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    const token = await other;
    expect(token.accessToken).toMatch(/^access-token-1/);
    expect(source.calls).toHaveLength(1);
    expect(source.calls[0]?.signal?.aborted).toBe(false);
  });

  test('an already aborted signal rejects at once with its reason', async () => {
    const source = fakeSource();
    const tokens = createTokenManager({ source });
    await expect(tokens.getToken({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(source.calls).toHaveLength(0);
  });

  test('AbortSignal.timeout aborts a wait on a hanging endpoint', async () => {
    const source = fakeSource(Date.now, { kind: 'hang' });
    const tokens = createTokenManager({ source, retry: { attemptTimeoutMs: 60_000 } });
    await expect(tokens.getToken({ signal: AbortSignal.timeout(20) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  });
});

describe('store and lifecycle', () => {
  test('setToken, peek and clear', async () => {
    const source = fakeSource();
    const tokens = createTokenManager({ source });
    expect(await tokens.peek()).toBeUndefined();
    const given = createToken({ accessToken: 'from-code-exchange', expiresIn: 600 });
    await tokens.setToken(given);
    expect(await tokens.peek()).toBe(given);
    expect((await tokens.getToken()).accessToken).toBe('from-code-exchange');
    await tokens.clear();
    expect((await tokens.getToken()).accessToken).toMatch(/^access-token-1/);
  });

  test('two managers sharing a store share the token', async () => {
    const store = createMemoryTokenStore();
    const source = fakeSource();
    const a = createTokenManager({ source, store });
    const b = createTokenManager({ source, store });
    const ta = await a.getToken();
    expect((await b.getToken()).accessToken).toBe(ta.accessToken);
    expect(source.calls).toHaveLength(1);
  });

  test("a store's singleFlight runs the fetch, gets the stored token as it is now, and may hand over another process's token", async () => {
    const memory = createMemoryTokenStore();
    const elsewhere = createToken({ accessToken: 'fetched-by-another-process', expiresIn: 3600 });
    const rotated = createToken({
      accessToken: 'old',
      expiresAt: Date.now() - 1,
      refreshToken: 'rotated-elsewhere',
    });
    let handOver = false;
    const seen: (string | undefined)[] = [];
    const store: TokenStore = {
      get: memory.get,
      set: memory.set,
      delete: memory.delete,
      async singleFlight(key, fetch, options) {
        expect(options.isUsable(elsewhere)).toBe(true);
        expect(options.isUsable(rotated)).toBe(false);
        if (handOver) return elsewhere;
        const token = await fetch(rotated);
        seen.push(rotated.refreshToken);
        await memory.set(key, token);
        return token;
      },
    };
    const source = fakeSource();
    const fetched: unknown[] = [];
    const manager = createTokenManager({ source, store, on: { tokenFetched: (e) => fetched.push(e) } });
    await manager.getToken();
    // The fetch used the refresh token the store had, not one this process held.
    expect(source.calls.map((c) => c.refreshToken)).toEqual(['rotated-elsewhere']);
    expect(fetched).toHaveLength(1);
    await manager.clear();
    handOver = true;
    expect((await manager.getToken()).accessToken).toBe('fetched-by-another-process');
    expect(source.calls).toHaveLength(1); // nothing fetched here
    expect(fetched).toHaveLength(1); // and no tokenFetched for a token this process did not fetch
    expect(seen).toEqual(['rotated-elsewhere']);
  });

  test('events say why a token was fetched', async () => {
    const clock = manualClock();
    const source = fakeSource(clock.now, { kind: 'token', lifetimeS: 60 });
    const r = recorder();
    const tokens = createTokenManager({ source, now: clock.now, on: r.on });
    const t1 = await tokens.getToken();
    await tokens.invalidate(t1);
    await tokens.getToken();
    clock.advance(60_000);
    await tokens.getToken();
    expect(r.events.map((e) => [e.name, (e.event as { reason: string }).reason])).toEqual([
      ['tokenFetched', 'initial'],
      ['tokenRefreshed', 'invalidated'],
      ['tokenRefreshed', 'expired'],
    ]);
    expect(JSON.stringify(r.events)).not.toContain('access-token');
  });

  test('a rejected token keeps its refresh token: the next one comes from the refresh grant, not a new sign-in', async () => {
    const source = fakeSource();
    source.steps.push({ kind: 'token', lifetimeS: 3600, refreshToken: 'refresh-1' });
    const r = recorder();
    const tokens = createTokenManager({ source, on: r.on });
    const first = await tokens.getToken();
    await tokens.invalidate(first);
    // Held, but never served: a copy that is already expired, with the refresh token.
    expect((await tokens.peek())?.refreshToken).toBe('refresh-1');
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(source.calls.map((c) => c.refreshToken)).toEqual([undefined, 'refresh-1']);
    expect(
      r.events.map((e) => [(e.event as { reason: string }).reason, (e.event as { grant: string }).grant]),
    ).toEqual([
      ['initial', 'primary'],
      ['invalidated', 'refresh_token'],
    ]);
    // A late 401 for the first token changes nothing now.
    await tokens.invalidate(first);
    expect((await tokens.getToken()).accessToken).toBe(second.accessToken);
    expect(source.calls).toHaveLength(2);
  });

  test('a throwing listener or logger never breaks token delivery', async () => {
    const source = fakeSource();
    const tokens = createTokenManager({
      source,
      on: {
        tokenFetched: () => {
          throw new Error('listener bug');
        },
      },
      logger: {
        info: () => {
          throw new Error('logger bug');
        },
      },
    });
    await expect(tokens.getToken()).resolves.toBeDefined();
  });

  test('logger lines never contain a token or a secret', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const source = fakeSource();
    source.steps.push(
      { kind: 'network' },
      { kind: 'token', lifetimeS: 60, refreshToken: 'refresh-secret-1' },
    );
    const tokens = createTokenManager({ source, logger, retry: fastRetry });
    const token = await tokens.getToken();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).not.toContain(token.accessToken);
      expect(line).not.toContain('refresh-secret-1');
      expect(line).not.toContain(SECRET);
    }
  });
});

describe('options are validated at construction, naming the option', () => {
  test.each([
    [{ refresh: { skewMs: -1 } }, 'refresh.skewMs'],
    [{ refresh: { refreshAheadMs: Number.NaN } }, 'refresh.refreshAheadMs'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ retry: { maxAttempts: 1.5 } }, 'retry.maxAttempts'],
    [{ retry: { baseDelayMs: Infinity } }, 'retry.baseDelayMs'],
    [{ retry: { attemptTimeoutMs: 0 } }, 'retry.attemptTimeoutMs'],
    [{ retry: { maxRetryAfterMs: '5' } }, 'retry.maxRetryAfterMs'],
  ])('%j → %s', (extra, option) => {
    const make = () => createTokenManager({ source: fakeSource(), ...(extra as object) });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(new RegExp(`^${option.replace('.', '\\.')}:`));
  });

  test('a missing source is refused', () => {
    expect(() => createTokenManager({} as never)).toThrow(/^source:/);
  });

  test("regression (issue 9 #6): a user flow's tokens in a store passed in need a session (or every user shares one key)", () => {
    const userFlow = (identity: object) => {
      const source = fakeSource();
      return {
        ...source,
        identity: { ...source.identity, actsForUser: true, ...identity },
        fetchToken: source.fetchToken,
      };
    };
    const store = createMemoryTokenStore();
    expect(() => createTokenManager({ source: userFlow({}), store })).toThrow(/^session: must be given/);
    expect(() => createTokenManager({ source: userFlow({ session: '' }), store })).toThrow(/^session:/);
    expect(() => createTokenManager({ source: userFlow({ session: 'alice' }), store })).not.toThrow();
    expect(() => createTokenManager({ source: userFlow({}) })).not.toThrow(); // its own memory store
  });
});

describe('a source that asks a person (interactive: the device flow)', () => {
  const interactive = (clock = manualClock(), fallback?: Parameters<typeof fakeSource>[1]) =>
    Object.assign(fakeSource(clock.now, fallback), { interactive: true as const });

  test('its sign-in may take longer than retry.attemptTimeoutMs: a person takes minutes', async () => {
    const source = interactive(manualClock(), { kind: 'token', lifetimeS: 3600, delayMs: 150 });
    const tokens = createTokenManager({ source, retry: { ...fastRetry, attemptTimeoutMs: 20 } });
    const token = await tokens.getToken();
    expect(token).toBe(source.issued[0]);
    expect(source.calls).toHaveLength(1);
  });

  test('a failed sign-in is never retried (a retry would show the user a new code)', async () => {
    const source = interactive();
    source.steps.push({ kind: 'fail', status: 503 }, { kind: 'network' });
    const tokens = createTokenManager({ source, retry: { ...fastRetry, maxAttempts: 3 } });
    await expect(tokens.getToken()).rejects.toMatchObject({ status: 503 });
    expect(source.calls).toHaveLength(1);
  });

  test('its refresh-token requests are ordinary attempts: timed out and retried', async () => {
    const clock = manualClock();
    const source = interactive(clock);
    source.steps.push({ kind: 'token', lifetimeS: 60, refreshToken: 'rt-1' }, { kind: 'fail', status: 503 });
    const tokens = createTokenManager({ source, now: clock.now, retry: { ...fastRetry, maxAttempts: 2 } });
    const first = await tokens.getToken();
    clock.set(first.expiresAt!);
    await tokens.getToken();
    expect(source.calls.map((c) => c.refreshToken)).toEqual([undefined, 'rt-1', 'rt-1']);
  });

  test('a stale token without a refresh token is served to expiry: no sign-in nobody waits for', async () => {
    const clock = manualClock();
    const source = interactive(clock, { kind: 'token', lifetimeS: 600 });
    const tokens = createTokenManager({ source, now: clock.now });
    const first = await tokens.getToken();
    clock.advance(400_000); // stale: inside the refresh-ahead window, not expired
    await expect(tokens.getToken()).resolves.toBe(first);
    await settle();
    expect(source.calls).toHaveLength(1);
  });

  test('a refresh token refused in the background does not start a sign-in', async () => {
    const clock = manualClock();
    const source = interactive(clock);
    source.steps.push(
      { kind: 'token', lifetimeS: 600, refreshToken: 'rt-1' },
      { kind: 'fail', status: 400, error: 'invalid_grant' },
    );
    const tokens = createTokenManager({ source, now: clock.now, logger: false });
    const first = await tokens.getToken();
    clock.advance(400_000);
    await expect(tokens.getToken()).resolves.toBe(first);
    await settle(20);
    expect(source.calls.map((c) => c.refreshToken)).toEqual([undefined, 'rt-1']);
    // A caller who needs a token once it has expired signs in, in the foreground.
    clock.set(first.expiresAt!);
    source.steps.push({ kind: 'fail', status: 400, error: 'invalid_grant' });
    await tokens.getToken();
    expect(source.calls.map((c) => c.refreshToken)).toEqual([undefined, 'rt-1', 'rt-1', undefined]);
  });
});
