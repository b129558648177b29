import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '@authrail/sandbox';
import {
  bearer,
  form,
  json,
  medblocksTokenRequest,
  mskTokenRequest,
  oktaTokenRequest,
  sleep,
  tokenOf,
} from '../test/helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

describe('faults answer for the route', () => {
  test('status: default JSON server_error, or the given body and content type', async () => {
    sb.inject('msk-token', { type: 'status', status: 503 }, { times: 1 });
    sb.inject(
      'msk-token',
      { type: 'status', status: 500, body: 'oops', contentType: 'text/plain' },
      { times: 1 },
    );
    const first = await mskTokenRequest(sb);
    expect([first.status, first.headers.get('content-type')]).toEqual([503, 'application/json']);
    expect(await json(first)).toMatchObject({ error: 'server_error' });
    const second = await mskTokenRequest(sb);
    expect([second.status, second.headers.get('content-type'), await second.text()]).toEqual([
      500,
      'text/plain',
      'oops',
    ]);
    expect((await mskTokenRequest(sb)).status).toBe(200);
  });

  test('rate-limit: 429 with Retry-After in seconds', async () => {
    sb.inject('okta-token', { type: 'rate-limit', retryAfterSeconds: 7 }, { times: 1 });
    const res = await oktaTokenRequest(sb);
    expect([res.status, res.headers.get('retry-after')]).toEqual([429, '7']);
    expect((await oktaTokenRequest(sb)).status).toBe(200);
  });

  test("rate-limit: as an HTTP date, or only as Okta's X-Rate-Limit-Reset", async () => {
    sb.inject('okta-token', { type: 'rate-limit', retryAfterSeconds: 60, form: 'date' }, { times: 1 });
    sb.inject('okta-token', { type: 'rate-limit', retryAfterSeconds: 60, form: 'okta-reset' }, { times: 1 });
    const dated = await oktaTokenRequest(sb);
    const wait = Date.parse(dated.headers.get('retry-after') ?? '') - Date.now();
    expect(wait).toBeGreaterThan(55_000);
    expect(wait).toBeLessThanOrEqual(60_000);
    const okta = await oktaTokenRequest(sb);
    expect(okta.headers.get('retry-after')).toBeNull();
    const reset = Number(okta.headers.get('x-rate-limit-reset')) * 1000 - Date.now();
    expect(reset).toBeGreaterThan(55_000);
    expect(reset).toBeLessThanOrEqual(61_000);
  });

  test("token-response: the route's own token response with fields set or left out", async () => {
    sb.inject(
      'msk-token',
      { type: 'token-response', fields: { expires_in: 0, token_type: 'DPoP', scope: null } },
      { times: 1 },
    );
    const body = (await json(await mskTokenRequest(sb))) as Record<string, unknown>;
    expect(body).toMatchObject({ expires_in: 0, token_type: 'DPoP' });
    expect('scope' in body).toBe(false);
    // The token is the route's own: the API accepts it.
    const api = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=17-001`, {
      headers: { Authorization: `Bearer ${String(body.access_token)}` },
    });
    expect(api.status).toBe(200);
  });

  test('huge-body and gzip-bomb: the body is the given size (after decompression)', async () => {
    sb.inject('msk-token', { type: 'huge-body', bytes: 3_000_000, status: 502 }, { times: 1 });
    sb.inject('msk-token', { type: 'gzip-bomb', bytes: 5_000_000 }, { times: 1 });
    const huge = await mskTokenRequest(sb);
    expect(huge.status).toBe(502);
    expect((await huge.arrayBuffer()).byteLength).toBe(3_000_000 + '{"access_token":""}'.length);
    const bomb = await mskTokenRequest(sb);
    expect(Number(bomb.headers.get('content-length'))).toBeLessThan(20_000);
    expect((await bomb.arrayBuffer()).byteLength).toBe(
      5_000_000 + '{"access_token":"","token_type":"Bearer"}'.length,
    );
  });

  test('endless-body and stalled-gzip: headers, then a body that does not end', async () => {
    sb.inject('msk-token', { type: 'endless-body' }, { times: 1 });
    sb.inject('msk-token', { type: 'stalled-gzip' }, { times: 1 });
    for (const expected of [undefined, 'gzip']) {
      const controller = new AbortController();
      const res = await fetch(`${sb.urls.mskApim.tokenEndpoint}`, {
        method: 'POST',
        signal: controller.signal,
      });
      expect(res.headers.get('content-encoding') ?? undefined).toBe(expected);
      const reader = res.body!.getReader();
      let read = 0;
      const timer = setTimeout(() => controller.abort(), 300);
      await (async () => {
        for (;;) read += (await reader.read()).value?.byteLength ?? 0;
      })().catch(() => undefined);
      clearTimeout(timer);
      expect(controller.signal.aborted).toBe(true); // still going after 300 ms
      if (expected === undefined) expect(read).toBeGreaterThan(64 * 1024);
    }
  });

  test('echo-credentials: 401 invalid_client quoting the Authorization header and the form body', async () => {
    sb.inject('okta-token', { type: 'echo-credentials' }, { times: 1 });
    const res = await oktaTokenRequest(sb);
    const body = (await json(res)) as { error: string; error_description: string };
    expect([res.status, body.error]).toEqual([401, 'invalid_client']);
    expect(body.error_description).toMatch(/Authorization: Basic \S+; body: grant_type=client_credentials/);
  });

  test('html: a gateway error page, 502 by default or the given status', async () => {
    sb.inject('medblocks-token', { type: 'html' }, { times: 1 });
    sb.inject('medblocks-token', { type: 'html', status: 504 }, { times: 1 });
    const first = await medblocksTokenRequest(sb);
    expect([first.status, first.headers.get('content-type')]).toEqual([502, 'text/html; charset=utf-8']);
    expect(await first.text()).toContain('<title>502 Bad Gateway</title>');
    const second = await medblocksTokenRequest(sb);
    expect(second.status).toBe(504);
    expect(await second.text()).toContain('504 Gateway Timeout');
  });

  test('malformed-json: 200 application/json that does not parse', async () => {
    sb.inject('okta-token', { type: 'malformed-json' }, { times: 1 });
    const res = await oktaTokenRequest(sb);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/json']);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  test('missing-access-token: a 200 token response without access_token', async () => {
    sb.inject('msk-token', { type: 'missing-access-token' }, { times: 1 });
    const res = await mskTokenRequest(sb);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ token_type: 'Bearer' });
    expect(body).not.toHaveProperty('access_token');
    expect(sb.issuedTokens()).toBe(0);
  });

  test('okta-error: Okta errorCode shape with the given status', async () => {
    sb.inject('okta-token', {
      type: 'okta-error',
      status: 403,
      errorCode: 'E0000006',
      errorSummary: 'You do not have permission',
    });
    const res = await oktaTokenRequest(sb);
    expect(res.status).toBe(403);
    expect(await json(res)).toEqual({
      errorCode: 'E0000006',
      errorSummary: 'You do not have permission',
      errorLink: 'E0000006',
      errorId: expect.stringMatching(/^oae/),
      errorCauses: [],
    });
  });

  test('unauthorized on resource routes: 401 invalid_token although the token is good', async () => {
    const msk = await tokenOf.mskApim(sb);
    const okta = await tokenOf.okta(sb);
    sb.inject('msk-fhir', { type: 'unauthorized' }, { times: 1 });
    sb.inject('echo', { type: 'unauthorized' }, { times: 1 });
    sb.inject('ctrp-accrual', { type: 'unauthorized' }, { times: 1 });
    const responses = [
      await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`, { headers: bearer(msk) }),
      await fetch(sb.urls.echo, { headers: bearer(msk) }),
      await fetch(`${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/T1/sites/po/1`, {
        headers: bearer(okta),
      }),
    ];
    for (const res of responses) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    }
    expect((await fetch(sb.urls.echo, { headers: bearer(msk) })).status).toBe(200);
  });

  test('unauthorized with another status and challenge, or none', async () => {
    const msk = await tokenOf.mskApim(sb);
    sb.inject(
      'echo',
      { type: 'unauthorized', status: 403, challenge: 'Bearer error="insufficient_scope", scope="x y"' },
      { times: 1 },
    );
    sb.inject('echo', { type: 'unauthorized', challenge: '' }, { times: 1 });
    const scoped = await fetch(sb.urls.echo, { headers: bearer(msk) });
    expect([scoped.status, scoped.headers.get('www-authenticate')]).toEqual([
      403,
      'Bearer error="insufficient_scope", scope="x y"',
    ]);
    const plain = await fetch(sb.urls.echo, { headers: bearer(msk) });
    expect([plain.status, plain.headers.get('www-authenticate')]).toEqual([401, null]);
  });

  test('faults apply to the sign-in page too', async () => {
    sb.inject('medblocks-authorize', { type: 'status', status: 503 }, { times: 1 });
    expect((await fetch(sb.urls.medblocks.authorizeEndpoint)).status).toBe(503);
  });
});

describe('fault timing and connection faults', () => {
  test('delay: waits, then handles the request normally', async () => {
    sb.inject('okta-token', { type: 'delay', ms: 80 }, { times: 1 });
    const started = performance.now();
    const res = await oktaTokenRequest(sb);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    expect(res.status).toBe(200);
    expect(await json(res)).toHaveProperty('access_token');
  });

  test('reset: the connection is destroyed, the client sees a network error; recorded with status 0', async () => {
    sb.inject('medblocks-token', { type: 'reset' }, { times: 1 });
    await expect(medblocksTokenRequest(sb)).rejects.toThrow(TypeError);
    sb.inject('echo', { type: 'reset' }, { times: 1 });
    await expect(fetch(sb.urls.echo)).rejects.toThrow(TypeError);
    expect(sb.requests.map((r) => [r.route, r.status])).toEqual([
      ['medblocks-token', 0],
      ['echo', 0],
    ]);
    expect((await medblocksTokenRequest(sb)).status).toBe(200);
  });

  test('hang: a client with AbortSignal.timeout gives up; close() resolves and ends hung requests', async () => {
    const own = await startSandbox();
    own.inject('okta-token', { type: 'hang' });
    const attempt = fetch(own.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({ grant_type: 'client_credentials' }),
      signal: AbortSignal.timeout(100),
    });
    await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
    const hanging = fetch(own.urls.okta.tokenEndpoint, { method: 'POST', body: form({}) }).then(
      () => 'answered',
      (error: unknown) => error,
    );
    await sleep(50);
    const started = performance.now();
    await own.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await hanging).toBeInstanceOf(TypeError);
    expect(own.tokenRequests().map((r) => r.status)).toEqual([0, 0]);
  });
});

describe('the fault queue', () => {
  test('faults queue per route and are consumed in order; times counts requests', async () => {
    sb.inject('msk-token', { type: 'status', status: 503 }, { times: 2 });
    sb.inject('msk-token', { type: 'rate-limit', retryAfterSeconds: 1 }, { times: 1 });
    sb.inject('msk-token', { type: 'html' }, { times: 1 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await mskTokenRequest(sb)).status);
    expect(statuses).toEqual([503, 503, 429, 502, 200]);
    expect(sb.tokenRequests().map((r) => r.status)).toEqual(statuses);
  });

  test('without times a fault applies to every request, and only on its route, until clearFaults', async () => {
    sb.inject('okta-token', { type: 'status', status: 500 });
    for (let i = 0; i < 3; i++) expect((await oktaTokenRequest(sb)).status).toBe(500);
    expect((await mskTokenRequest(sb)).status).toBe(200);
    sb.clearFaults();
    expect((await oktaTokenRequest(sb)).status).toBe(200);
  });

  test('reset() forgets faults too', async () => {
    sb.inject('msk-token', { type: 'status', status: 500 });
    sb.reset();
    expect((await mskTokenRequest(sb)).status).toBe(200);
  });

  test('inject refuses a non-positive count, an unknown route and an unknown fault', () => {
    expect(() => sb.inject('echo', { type: 'reset' }, { times: 0 })).toThrow(/times/);
    expect(() => sb.inject('echo', { type: 'reset' }, { times: -1 })).toThrow(/times/);
    expect(() => sb.inject('nope' as never, { type: 'reset' })).toThrow(/route/);
    expect(() => sb.inject('echo', { type: 'explode' } as never)).toThrow(/fault/);
  });
});
