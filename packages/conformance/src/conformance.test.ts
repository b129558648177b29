// The adapter conformance table: the same guarantees, the same assertions, for every
// adapter (fetch, ky 2, ky 1, axios, and the undici interceptor under undici.request 6 and 7
// and the global fetch), over real HTTP against the sandbox.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { inspect } from 'node:util';
import {
  ErrorCodes,
  MissingScopeError,
  createApiKeyStrategy,
  createAuthStrategy,
  createTokenManager,
  isTokenEndpointError,
  type AuthStrategy,
  type RejectedEvent,
  type TokenAuthStrategy,
  type TokenManager,
} from '@authrail/core';
import { clientCredentials, clientSecretPost, createMemoryStorage } from '@authrail/oauth2';
import { medblocksAuthorizationCode, medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim, type MskApimOptions } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { demoClients, startSandbox, type RecordedRequest, type Sandbox } from '@authrail/sandbox';
import { importPrivateKey, smartAppLaunch, smartBackendServices } from '@authrail/smart';
import { BINARY, JSON_BODY, XML_BODY, drivers, type BodyKind, type Driver } from './drivers.js';
import { answer, redirectTo, signInOnSandbox, useOrigins, useSandbox } from '@authrail/test-utils';

const sb = useSandbox();
/** Bare servers beside the sandbox: another origin that can answer 401, and a TLS one. */
const web = useOrigins({ tls: true });

function msk(extra: Partial<MskApimOptions> = {}, on: { rejected?: (e: RejectedEvent) => void } = {}) {
  // ky's default retry is on in every driver: these options keep the token side fast.
  return mskApim({
    baseUrl: sb.urls.mskApim.baseUrl,
    clientId: demoClients.mskApim.clientId,
    clientSecret: demoClients.mskApim.clientSecret,
    researchStudy: '17-001',
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    on,
    ...extra,
  });
}

const echoed = (route = 'echo') => sb.resourceRequests({ route: route as 'echo' });
const elsewhere = () => sb.requests.filter((r) => r.listener === 'elsewhere');

/** The multipart body with its random boundary replaced, so two serialisations compare. */
function normalise(record: RecordedRequest): string {
  const type = record.headers['content-type'] ?? '';
  const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2];
  const text = record.body.toString('latin1');
  return boundary ? text.split(boundary).join('BOUNDARY') : text;
}

function expectedBody(kind: BodyKind): (body: Buffer, record: RecordedRequest) => void {
  switch (kind) {
    case 'json':
      return (body) => expect(JSON.parse(body.toString())).toEqual(JSON_BODY);
    case 'xml':
      return (body) => expect(body.toString()).toBe(XML_BODY);
    case 'urlsearchparams':
      return (body) =>
        expect(Object.fromEntries(new URLSearchParams(body.toString()))).toEqual({
          trial: 'NCI-2024-00001',
          site: 'po 123',
          note: 'a&b=c',
        });
    case 'formdata':
      return (_body, record) => {
        const text = normalise(record);
        expect(text).toContain('name="field"');
        expect(text).toContain('value');
        expect(text).toContain('filename="data.bin"');
        expect(record.body.includes(Buffer.from(BINARY))).toBe(true);
      };
    case 'blob':
    case 'arraybuffer':
      return (body) => expect(new Uint8Array(body)).toEqual(BINARY);
    default:
      return () => undefined;
  }
}

describe.each(drivers)('$name adapter', (driver: Driver) => {
  test('1. Authorization goes to allowed origins only; a request elsewhere is untouched', async () => {
    const send = driver.client(msk());
    const ok = await send({ method: 'GET', url: `${sb.urls.echo}/patients` });
    expect(ok.status).toBe(200);
    const [mine] = echoed();
    expect(mine?.headers.authorization).toMatch(/^Bearer \S+$/);
    expect(mine?.query.researchstudy).toBe('17-001');
    const other = await send({
      method: 'GET',
      url: `${sb.urls.elsewhere}/patients?x=1`,
      headers: { 'X-Caller': 'kept' },
    });
    expect(other.status).toBe(200);
    const [theirs] = elsewhere();
    expect(theirs?.headers.authorization).toBeUndefined();
    expect(theirs?.query).toEqual({ x: '1' });
    expect(theirs?.headers['x-caller']).toBe('kept');
  });

  test('3. protocol scoping: default added, explicit kept, required and missing refused before sending', async () => {
    const send = driver.client(msk());
    expect((await send({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient` })).status).toBe(200);
    expect(
      (await send({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245` }))
        .status,
    ).toBe(200);
    expect(echoed('msk-fhir').map((r) => r.query.researchstudy)).toEqual(['17-001', '12-245']);
    sb.reset();
    let attempts = 0;
    const inner = msk({ researchStudy: undefined });
    const unscoped = driver.client({ send: (...args) => ((attempts += 1), inner.send(...args)) });
    const error = await unscoped({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient` }).catch(
      (e: unknown) => e,
    );
    expect(driver.authrailError(error)).toBeInstanceOf(MissingScopeError);
    expect(sb.requests).toHaveLength(0); // not even a token request
    expect(attempts).toBe(1); // the client did not retry it either
  });

  test.each(['json', 'urlsearchparams', 'formdata', 'blob', 'arraybuffer'] as const)(
    '4. a revoked token: the %s request is replayed once, with a fresh token and the same body',
    async (kind) => {
      const events: RejectedEvent[] = [];
      const revoker = driver.client(msk({}, { rejected: (e) => events.push(e) }));
      await revoker({ method: 'GET', url: `${sb.urls.echo}/warm-up` });
      expect(sb.revokeTokens()).toBe(1);
      const before = echoed().length;
      const response = await revoker({ method: 'POST', url: `${sb.urls.echo}/upload`, body: kind });
      expect(response.status).toBe(200);
      const attempts = echoed().slice(before);
      expect(attempts.map((r) => r.status)).toEqual([401, 200]);
      expect(attempts[0]!.headers.authorization).not.toBe(attempts[1]!.headers.authorization);
      expect(attempts[0]!.method).toBe('POST');
      expect(attempts[1]!.method).toBe('POST');
      expect(attempts[1]!.headers['content-type']).toBe(attempts[0]!.headers['content-type']);
      const check = expectedBody(kind);
      for (const attempt of attempts) check(attempt.body, attempt);
      expect(attempts[1]!.body.equals(attempts[0]!.body)).toBe(true); // the same bytes, boundary included
      expect(events).toEqual([
        expect.objectContaining({ method: 'POST', replay: true, reason: 'replaying' }),
      ]);
    },
  );

  test('4. the CTRP accrual PUT with an XML body is replayed byte for byte under a fresh Okta token', async () => {
    const send = driver.client(
      oktaClientCredentials({
        issuer: sb.urls.okta.issuer,
        clientId: demoClients.okta.clientId,
        clientSecret: demoClients.okta.clientSecret,
        scope: 'ctrp.accrual',
        origins: [sb.url],
      }),
    );
    const url = `${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123456`;
    expect((await send({ method: 'GET', url })).status).toBe(200);
    sb.revokeTokens({ service: 'okta' });
    const response = await send({ method: 'PUT', url, body: 'xml' });
    expect(response.status).toBe(200);
    expect(response.text).toContain('<subjects>1</subjects>');
    const puts = echoed('ctrp-accrual').filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.status)).toEqual([401, 200]);
    expect(puts.map((r) => r.body.toString())).toEqual([XML_BODY, XML_BODY]);
    expect(puts.map((r) => r.headers['content-type'])).toEqual(['application/xml', 'application/xml']);
    expect(sb.tokenRequests({ service: 'okta' })).toHaveLength(2);
  });

  test('4. a one-shot stream body is not replayed: the 401 comes back, and the event says why', async () => {
    const events: RejectedEvent[] = [];
    const send = driver.client(msk({}, { rejected: (e) => events.push(e) }));
    await send({ method: 'GET', url: `${sb.urls.echo}/warm-up` });
    sb.revokeTokens();
    // Over 1 MiB: a client that turns every body into a Request (ky) reads no more than that.
    const outcome = await send({ method: 'POST', url: `${sb.urls.echo}/stream`, body: 'large-stream' }).then(
      (r) => r.status,
      (e: unknown) => driver.httpErrorStatus(e) ?? e,
    );
    expect(outcome).toBe(401);
    const sent = echoed().filter((r) => r.path === '/echo/stream');
    expect(sent.map((r) => r.body.length)).toEqual([5 * 256 * 1024]); // sent once, whole
    expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'body-not-replayable' })]);
  });

  test('4. a small stream body: one-shot as the caller gave it (fetch, axios), read and replayed where the client made it a Request (ky)', async () => {
    const events: RejectedEvent[] = [];
    const send = driver.client(msk({}, { rejected: (e) => events.push(e) }));
    await send({ method: 'GET', url: `${sb.urls.echo}/warm-up` });
    sb.revokeTokens();
    const outcome = await send({ method: 'POST', url: `${sb.urls.echo}/small`, body: 'stream' }).then(
      (r) => r.status,
      (e: unknown) => driver.httpErrorStatus(e) ?? e,
    );
    const sent = echoed().filter((r) => r.path === '/echo/small');
    if (driver.name.startsWith('ky')) {
      expect(outcome).toBe(200);
      expect(sent.map((r) => r.body.toString())).toEqual(['chunk-1;chunk-2', 'chunk-1;chunk-2']);
      expect(events).toEqual([expect.objectContaining({ replay: true, reason: 'replaying' })]);
    } else {
      expect(outcome).toBe(401);
      expect(sent).toHaveLength(1);
      expect(events).toEqual([expect.objectContaining({ replay: false, reason: 'body-not-replayable' })]);
    }
  });

  test('5. always 401: exactly two requests reach the server; the caller sees the 401 as the client reports it; the fresh token is kept', async () => {
    const strategy = msk();
    const send = driver.client(strategy);
    sb.inject('echo', { type: 'unauthorized' }, { times: 2 });
    const outcome = await send({ method: 'GET', url: `${sb.urls.echo}/always` }).then(
      (r) => ({ returned: r.status }),
      (e: unknown) => ({ thrown: driver.httpErrorStatus(e) }),
    );
    expect(outcome).toEqual(driver.returnsHttpErrors ? { returned: 401 } : { thrown: 401 });
    expect(echoed()).toHaveLength(2);
    expect(sb.tokenRequests()).toHaveLength(2);
    // The second 401 did not throw the fresh token away: the next call uses it.
    expect((await send({ method: 'GET', url: `${sb.urls.echo}/next` })).status).toBe(200);
    expect(sb.tokenRequests()).toHaveLength(2);
    expect(echoed()[2]?.headers.authorization).toBe(`Bearer ${(await strategy.tokens.peek())?.accessToken}`);
  });

  test('6. 1,000 concurrent requests with no token cause 1 token request', async () => {
    const send = driver.client(msk());
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => send({ method: 'GET', url: `${sb.urls.echo}/c/${i}` })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(echoed()).toHaveLength(1_000);
  });

  test('6. at expiry, 1,000 concurrent requests cause 1 refresh', async () => {
    // The client's clock is moved past expiry; the sandbox's tokens stay valid, so every
    // token request counted here is the client's own decision.
    let now = Date.now();
    const tokens = createTokenManager({
      source: clientCredentials({
        server: { issuer: sb.urls.mskApim.baseUrl, tokenEndpoint: sb.urls.mskApim.tokenEndpoint },
        clientId: demoClients.mskApim.clientId,
        clientAuth: clientSecretPost(demoClients.mskApim.clientSecret),
        scope: 'full',
      }),
      now: () => now,
    });
    const send = driver.client(createAuthStrategy({ tokens, origins: [sb.url] }));
    await send({ method: 'GET', url: `${sb.urls.echo}/first` });
    const first = await tokens.getToken();
    now = first.expiresAt!; // the moment of expiry
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => send({ method: 'GET', url: `${sb.urls.echo}/c/${i}` })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(sb.tokenRequests()).toHaveLength(2);
    const credentials = new Set(
      echoed()
        .slice(1)
        .map((r) => r.headers.authorization),
    );
    expect(credentials.size).toBe(1);
    expect([...credentials][0]).not.toBe(`Bearer ${first.accessToken}`);
  });

  test("7. the caller's AbortSignal aborts while the token is being fetched", async () => {
    sb.inject('msk-token', { type: 'hang' });
    const send = driver.client(msk());
    const error = await send({
      method: 'GET',
      url: `${sb.urls.echo}/x`,
      signal: AbortSignal.timeout(100),
    }).catch((e: unknown) => e);
    expect(driver.isAbort(error)).toBe(true);
    expect(echoed()).toHaveLength(0);
  });

  test("7. the client's own timeout aborts while the token is being fetched", async () => {
    sb.inject('msk-token', { type: 'hang' });
    const send = driver.client(msk());
    const error = await send({ method: 'GET', url: `${sb.urls.echo}/x`, timeout: 100 }).catch(
      (e: unknown) => e,
    );
    expect(driver.isAbort(error)).toBe(true);
    expect(echoed()).toHaveLength(0);
  });

  test('8. token endpoint down: the typed error reaches the caller, with no secret in it', async () => {
    sb.inject('msk-token', { type: 'status', status: 503 });
    const send = driver.client(msk({ retry: { maxAttempts: 2, baseDelayMs: 1 } }));
    const rejection = await send({ method: 'GET', url: `${sb.urls.echo}/x` }).catch((e: unknown) => e);
    const error = driver.authrailError(rejection);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 503 });
    const rendered = [
      String(rejection),
      JSON.stringify(rejection),
      inspect(rejection, { depth: 10, showHidden: true }),
    ].join('\n');
    expect(rendered).not.toContain(demoClients.mskApim.clientSecret);
    expect(sb.tokenRequests()).toHaveLength(2);
    expect(echoed()).toHaveLength(0);
  });

  test("8. no multiplication: with the client's default retry, invalid_client costs one token request", async () => {
    const send = driver.client(msk({ clientSecret: 'not-the-secret' }));
    const error = await send({ method: 'GET', url: `${sb.urls.echo}/x` }).catch((e: unknown) => e);
    expect(driver.authrailError(error)).toMatchObject({
      name: 'TokenEndpointError',
      error: 'invalid_client',
    });
    expect(sb.tokenRequests()).toHaveLength(1);
  });

  test("8. no multiplication: a 503 storm costs exactly core's retry.maxAttempts", async () => {
    sb.inject('msk-token', { type: 'status', status: 503 });
    const send = driver.client(msk({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } }));
    const error = await send({ method: 'GET', url: `${sb.urls.echo}/x` }).catch((e: unknown) => e);
    expect(isTokenEndpointError(driver.authrailError(error))).toBe(true);
    expect(sb.tokenRequests()).toHaveLength(3);
  });

  test.each([401, 404, 500])(
    "9. the client's own error for a %i holds no credential: inspect, JSON",
    async (status) => {
      const strategy = msk();
      const send = driver.client(strategy);
      if (status === 401) sb.inject('echo', { type: 'unauthorized' });
      if (status === 500) sb.inject('echo', { type: 'status', status: 500 });
      const url = status === 404 ? `${sb.url}/no-such-route` : `${sb.urls.echo}/err`;
      const outcome = await send({ method: 'POST', url, body: 'json' }).catch((e: unknown) => e);
      expect(sb.tokenRequests().length).toBeGreaterThan(0);
      const token = (await strategy.tokens.peek())?.accessToken;
      expect(token).toBeDefined();
      if (driver.returnsHttpErrors) {
        expect((outcome as { status: number }).status).toBe(status);
        return; // no error object for an HTTP status
      }
      expect(driver.httpErrorStatus(outcome)).toBe(status);
      const rendered = [
        inspect(outcome, { depth: 8, showHidden: true }),
        JSON.stringify(outcome),
        JSON.stringify((outcome as { toJSON?: () => unknown }).toJSON?.() ?? null),
      ].join('\n');
      expect(rendered).not.toContain(token!);
      expect(rendered).not.toMatch(/Bearer [A-Za-z0-9_-]{8,}/);
    },
  );
});

/** The credential kinds a redirect must not carry: a bearer token, an API key header, an API key query parameter. */
function credentialKinds(origins: string[]): {
  name: string;
  strategy: () => AuthStrategy;
  carried: (r: { headers: Record<string, string | undefined>; query: Record<string, string> }) => boolean;
}[] {
  return [
    {
      name: 'bearer token',
      strategy: () => msk({ origins }),
      carried: (r) => r.headers.authorization !== undefined || r.query.researchstudy !== undefined,
    },
    {
      name: 'API key header',
      strategy: () =>
        createApiKeyStrategy({ key: 'api-key-123456', header: 'Ocp-Apim-Subscription-Key', origins }),
      carried: (r) => r.headers['ocp-apim-subscription-key'] !== undefined,
    },
    {
      name: 'API key query parameter',
      strategy: () => createApiKeyStrategy({ key: 'api-key-123456', query: 'subscription-key', origins }),
      carried: (r) => r.query['subscription-key'] !== undefined,
    },
  ];
}

describe.each(drivers)('$name adapter: redirects, hop by hop', (driver: Driver) => {
  const landed = () => sb.requests.filter((r) => r.listener === 'elsewhere');
  const via = (to: string, status: number) =>
    `${sb.urls.redirect}?to=${encodeURIComponent(to)}&status=${status}`;

  test.each([301, 302, 303, 307, 308])(
    "a %i to another origin carries no credential of any kind; the caller's own headers go on",
    async (status) => {
      for (const kind of credentialKinds([sb.url])) {
        sb.reset();
        const send = driver.client(kind.strategy());
        const result = await send({
          method: 'GET',
          url: via(`${sb.urls.elsewhere}/landing?from=api`, status),
          headers: { 'X-Caller': 'kept' },
        });
        expect(result.status).toBe(200);
        const [first] = sb.requests.filter((r) => r.path === '/redirect');
        expect(kind.carried(first!), `${kind.name} on the allowed origin`).toBe(true);
        const [there] = landed();
        expect(there?.path).toBe('/landing');
        expect(kind.carried(there!), `${kind.name} after a ${status}`).toBe(false);
        expect(there?.query).toEqual({ from: 'api' });
        expect(there?.headers['x-caller']).toBe('kept');
      }
    },
  );

  test('a chain: allowed → allowed (same origin) → another origin; only the allowed hops carry it', async () => {
    const send = driver.client(msk());
    const chain = via(via(`${sb.urls.elsewhere}/end`, 307), 302);
    expect((await send({ method: 'GET', url: chain })).status).toBe(200);
    const hops = sb.requests.filter((r) => r.route !== 'msk-token');
    expect(hops.map((r) => [r.listener, r.path, r.headers.authorization !== undefined])).toEqual([
      ['main', '/redirect', true],
      ['main', '/redirect', true],
      ['elsewhere', '/end', false],
    ]);
  });

  test('303 after a POST: a GET without the body; 307 to the same origin: the same method and bytes', async () => {
    const send = driver.client(msk());
    await send({ method: 'POST', url: via(`${sb.urls.echo}/after-303`, 303), body: 'json' });
    // Node 20's own fetch cannot follow a 307 with an ArrayBuffer body, interceptor or not
    // (its first send detaches the buffer; the second fails: "fetch failed"), and the global
    // fetch follows redirects itself: that column sends the same bytes as a Blob.
    const bytes = driver.name.startsWith('global fetch') ? 'blob' : 'arraybuffer';
    await send({ method: 'POST', url: via(`${sb.urls.echo}/after-307`, 307), body: bytes });
    const [after303, after307] = echoed();
    expect([after303?.method, after303?.body.length, after303?.headers['content-type']]).toEqual([
      'GET',
      0,
      undefined,
    ]);
    expect(after307?.method).toBe('POST');
    expect(new Uint8Array(after307!.body)).toEqual(BINARY);
  });

  test('https → http never carries a credential, even to an allowed origin', async () => {
    const secure = web.secure('api.authrail.test');
    web.routes.set(
      'secure/down',
      redirectTo(302, () => `${sb.urls.echo}/downgraded`),
    );
    for (const kind of credentialKinds([secure, sb.url])) {
      sb.reset();
      web.seen.length = 0;
      const send = driver.client(kind.strategy());
      const outcome = await send({ method: 'GET', url: `${secure}/down` }).then(
        (r) => r.status,
        (e: unknown) => driver.httpErrorStatus(e),
      );
      expect(outcome).toBe(401); // the sandbox wants a token, and none was sent
      expect(kind.carried(web.seen[0]!), `${kind.name} over https`).toBe(true);
      const [downgraded] = sb.resourceRequests({ route: 'echo' });
      expect(kind.carried(downgraded!), `${kind.name} over http`).toBe(false);
    }
  });

  test('a subdomain of the allowed host is another origin', async () => {
    const allowed = web.secure('api.authrail.test');
    web.routes.set(
      'secure/up',
      redirectTo(302, () => `${web.secure('evil.api.authrail.test')}/landing`),
    );
    for (const kind of credentialKinds([allowed])) {
      web.seen.length = 0;
      const send = driver.client(kind.strategy());
      expect((await send({ method: 'GET', url: `${allowed}/up` })).status).toBe(200);
      expect(web.seen.map((r) => r.host.split(':')[0])).toEqual([
        'api.authrail.test',
        'evil.api.authrail.test',
      ]);
      expect(kind.carried(web.seen[0]!), kind.name).toBe(true);
      expect(kind.carried(web.seen[1]!), kind.name).toBe(false);
    }
  });
});

describe.each(drivers)('$name adapter: challenges', (driver: Driver) => {
  test('a 401 from another origin reached by a redirect never touches the token: 10 calls, 1 token', async () => {
    const events: RejectedEvent[] = [];
    web.routes.set('other/denied', answer(401));
    const send = driver.client(msk({}, { rejected: (e) => events.push(e) }));
    const url = `${sb.urls.redirect}?to=${encodeURIComponent(`${web.other}/denied`)}&status=302`;
    for (let i = 0; i < 10; i += 1) {
      const outcome = await send({ method: 'GET', url }).then(
        (r) => r.status,
        (e: unknown) => driver.httpErrorStatus(e),
      );
      expect(outcome).toBe(401);
    }
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(events).toEqual([]);
  });

  test('insufficient_scope: no refresh, no replay, an event naming the scope', async () => {
    const events: RejectedEvent[] = [];
    const send = driver.client(msk({}, { rejected: (e) => events.push(e) }));
    sb.inject('echo', {
      type: 'unauthorized',
      status: 403,
      challenge: 'Bearer realm="msk", error="insufficient_scope", scope="patient/Observation.rs"',
    });
    const outcome = await send({ method: 'GET', url: `${sb.urls.echo}/observations` }).then(
      (r) => r.status,
      (e: unknown) => driver.httpErrorStatus(e),
    );
    expect(outcome).toBe(403);
    expect(echoed()).toHaveLength(1);
    expect(sb.tokenRequests()).toHaveLength(1);
    expect(events).toEqual([
      expect.objectContaining({
        status: 403,
        replay: false,
        reason: 'insufficient-scope',
        scope: 'patient/Observation.rs',
      }),
    ]);
  });

  test('Bearer error="invalid_token" and a plain 401 are each replayed once with a fresh token', async () => {
    const send = driver.client(msk());
    sb.inject('echo', { type: 'unauthorized' }, { times: 1 });
    expect((await send({ method: 'GET', url: `${sb.urls.echo}/a` })).status).toBe(200);
    sb.inject('echo', { type: 'unauthorized', challenge: '' }, { times: 1 });
    expect((await send({ method: 'GET', url: `${sb.urls.echo}/b` })).status).toBe(200);
    expect(echoed().map((r) => [r.path, r.status])).toEqual([
      ['/echo/a', 401],
      ['/echo/a', 200],
      ['/echo/b', 401],
      ['/echo/b', 200],
    ]);
    expect(sb.tokenRequests()).toHaveLength(3);
  });
});

describe.each(drivers)('$name adapter: DPoP-bound tokens', (driver: Driver) => {
  // A sandbox of its own that requires DPoP nonces everywhere.
  let nonces: Sandbox;
  beforeAll(async () => {
    nonces = await startSandbox({ dpopNonces: true });
  });
  afterAll(() => nonces.close());

  const smartDpop = async (on: { rejected?: (e: RejectedEvent) => void } = {}) =>
    smartBackendServices({
      fhirBaseUrl: nonces.urls.smart.fhirBaseUrl,
      clientId: demoClients.smartBackend.clientId,
      privateKey: await importPrivateKey(
        { ...demoClients.smartBackend.privateJwk },
        { kid: demoClients.smartBackend.kid },
      ),
      scope: 'system/Patient.rs',
      dpop: true,
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      on,
    });
  const claims = (record: RecordedRequest) =>
    JSON.parse(Buffer.from(String(record.headers.dpop).split('.')[1]!, 'base64url').toString()) as {
      htm: string;
      htu: string;
      jti: string;
      nonce?: string;
    };
  const echoes = () => nonces.resourceRequests({ route: 'echo' });

  test('every hop carries Authorization: DPoP and a new proof of its own; a nonce challenge and a revocation are each replayed once with the same bytes', async () => {
    nonces.reset();
    const events: RejectedEvent[] = [];
    const send = driver.client(await smartDpop({ rejected: (e) => events.push(e) }));
    expect((await send({ method: 'GET', url: `${nonces.urls.echo}/first?x=1` })).status).toBe(200);
    nonces.rotateDPoPNonce();
    expect((await send({ method: 'POST', url: `${nonces.urls.echo}/nonce`, body: 'json' })).status).toBe(200);
    nonces.revokeTokens();
    expect((await send({ method: 'POST', url: `${nonces.urls.echo}/revoked`, body: 'blob' })).status).toBe(
      200,
    );

    const seen = echoes();
    expect(seen.map((r) => [r.path, r.status])).toEqual([
      ['/echo/first', 200],
      ['/echo/nonce', 401],
      ['/echo/nonce', 200],
      ['/echo/revoked', 401],
      ['/echo/revoked', 200],
    ]);
    for (const record of seen) {
      expect(record.headers.authorization).toMatch(/^DPoP \S+$/);
      expect(claims(record)).toMatchObject({ htm: record.method, htu: `${nonces.url}${record.path}` });
    }
    expect(new Set(seen.map((r) => claims(r).jti)).size).toBe(seen.length); // a new proof every time
    expect(seen[2]!.headers.authorization).toBe(seen[1]!.headers.authorization); // the nonce replay keeps the token
    expect(seen[4]!.headers.authorization).not.toBe(seen[3]!.headers.authorization); // the revoked one is replaced
    expect(seen[2]!.body.equals(seen[1]!.body)).toBe(true);
    expect(seen[4]!.body.equals(seen[3]!.body)).toBe(true);
    expect(events.map((e) => e.reason)).toEqual(['dpop-nonce', 'replaying']);
    // One use_dpop_nonce at the token endpoint, then a token; one more after the revocation.
    expect(nonces.tokenRequests({ service: 'smart' }).map((r) => r.status)).toEqual([400, 200, 200]);
  });

  test('a redirect hop gets a proof for its own URL; a hop to another origin gets neither token nor proof', async () => {
    nonces.reset();
    const send = driver.client(await smartDpop());
    const via = (to: string) => `${nonces.urls.redirect}?to=${encodeURIComponent(to)}&status=307`;
    expect((await send({ method: 'GET', url: via(`${nonces.urls.echo}/landed`) })).status).toBe(200);
    const [redirect] = nonces.requests.filter((r) => r.path === '/redirect');
    const [landed] = echoes();
    expect(claims(redirect!).htu).toBe(`${nonces.url}/redirect`);
    expect(claims(landed!).htu).toBe(`${nonces.url}/echo/landed`);
    expect(claims(landed!).jti).not.toBe(claims(redirect!).jti);
    expect((await send({ method: 'GET', url: via(`${nonces.urls.elsewhere}/away`) })).status).toBe(200);
    const [away] = nonces.requests.filter((r) => r.listener === 'elsewhere');
    expect(away!.headers.authorization).toBeUndefined();
    expect(away!.headers.dpop).toBeUndefined();
  });
});

describe.each(drivers)(
  '$name adapter: every preset with dpop: true, and a wrapped token manager',
  (driver: Driver) => {
    // A sandbox of its own that requires DPoP nonces, at every token endpoint and API.
    let dpopSandbox: Sandbox;
    beforeAll(async () => {
      dpopSandbox = await startSandbox({ dpopNonces: true });
    });
    afterAll(() => dpopSandbox.close());
    const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5 } };
    const callback = 'http://127.0.0.1:5174/callback';

    /** A sign-in preset, signed in on the sandbox's page. */
    async function signedIn<
      S extends { authorizationUrl(): Promise<URL>; handleRedirect(url: string): Promise<void> },
    >(strategy: S): Promise<S> {
      await strategy.handleRedirect(await signInOnSandbox(await strategy.authorizationUrl()));
      return strategy;
    }

    const presets: [string, () => Promise<TokenAuthStrategy>][] = [
      [
        'mskApim',
        async () =>
          mskApim({
            baseUrl: dpopSandbox.url,
            clientId: demoClients.mskApim.clientId,
            clientSecret: demoClients.mskApim.clientSecret,
            researchStudy: '17-001',
            dpop: true,
            ...fast,
          }),
      ],
      [
        'oktaClientCredentials',
        async () =>
          oktaClientCredentials({
            issuer: dpopSandbox.urls.okta.issuer,
            clientId: demoClients.okta.clientId,
            clientSecret: demoClients.okta.clientSecret,
            scope: 'ctrp.accrual',
            origins: [dpopSandbox.url],
            dpop: true,
            ...fast,
          }),
      ],
      [
        'medblocksClientCredentials',
        async () =>
          medblocksClientCredentials({
            baseUrl: dpopSandbox.urls.medblocks.baseUrl,
            clientId: demoClients.medblocksBackend.clientId,
            clientSecret: demoClients.medblocksBackend.clientSecret,
            dpop: true,
            ...fast,
          }),
      ],
      [
        'medblocksAuthorizationCode',
        () =>
          signedIn(
            medblocksAuthorizationCode({
              baseUrl: dpopSandbox.urls.medblocks.baseUrl,
              clientId: demoClients.medblocksSpa.clientId,
              redirectUri: callback,
              storage: createMemoryStorage(),
              dpop: true,
              ...fast,
            }),
          ),
      ],
      [
        'smartBackendServices',
        async () =>
          smartBackendServices({
            fhirBaseUrl: dpopSandbox.urls.smart.fhirBaseUrl,
            clientId: demoClients.smartBackend.clientId,
            privateKey: await importPrivateKey(
              { ...demoClients.smartBackend.privateJwk },
              { kid: demoClients.smartBackend.kid },
            ),
            scope: 'system/Patient.rs',
            dpop: true,
            ...fast,
          }),
      ],
      [
        'smartAppLaunch',
        () =>
          signedIn(
            smartAppLaunch({
              fhirBaseUrl: dpopSandbox.urls.smart.fhirBaseUrl,
              clientId: demoClients.smartApp.clientId,
              redirectUri: callback,
              scope: 'launch/patient patient/*.rs offline_access',
              storage: createMemoryStorage(),
              dpop: true,
              ...fast,
            }),
          ),
      ],
    ];

    /** The API each preset's tokens are for, on the sandbox's own origin (the default origins). */
    const apiOf = (name: string) =>
      name.startsWith('smart')
        ? `${dpopSandbox.urls.smart.fhirBaseUrl}/Patient/p1`
        : `${dpopSandbox.urls.echo}/${name}`;

    test.each(presets)(
      '%s: DPoP-bound tokens, a proof on the request, accepted by the server',
      async (name, make) => {
        dpopSandbox.reset();
        const strategy = await make();
        expect(strategy.tokens.dpop).toBeDefined();
        const response = await driver.client(strategy)({ method: 'GET', url: apiOf(name) });
        expect(response.status).toBe(200);
        const sent = dpopSandbox.requests.filter(
          (r) => r.status === 200 && r.path === new URL(apiOf(name)).pathname,
        );
        expect(sent).toHaveLength(1);
        expect(sent[0]!.headers.authorization).toMatch(/^DPoP \S+$/);
        expect(sent[0]!.headers.dpop).toBeDefined();
      },
    );

    test('a token manager wrapped by the user (every member delegated) keeps DPoP; one without dpop is refused, never downgraded', async () => {
      dpopSandbox.reset();
      const inner = (await presets[0]![1]()).tokens;
      let reads = 0;
      const wrapped: TokenManager = {
        getToken: (options) => ((reads += 1), inner.getToken(options)),
        getTokenNow: () => inner.getTokenNow?.(),
        invalidate: (token) => inner.invalidate(token),
        setToken: (token) => inner.setToken(token),
        clear: () => inner.clear(),
        peek: () => inner.peek(),
        dpop: inner.dpop,
      };
      const strategy = createAuthStrategy({ tokens: wrapped, origins: [dpopSandbox.url] });
      const response = await driver.client(strategy)({
        method: 'GET',
        url: `${dpopSandbox.urls.echo}/wrapped`,
      });
      expect(response.status).toBe(200);
      expect(reads).toBe(1); // the first request waited for the token; later ones are served at once
      const [sent] = dpopSandbox.resourceRequests({ route: 'echo' }).filter((r) => r.status === 200);
      expect(sent!.headers.authorization).toMatch(/^DPoP /);
      expect(sent!.headers.dpop).toBeDefined();

      const withoutProver: TokenManager = { ...wrapped, dpop: undefined };
      const lossy = createAuthStrategy({ tokens: withoutProver, origins: [dpopSandbox.url] });
      const error = await driver
        .client(lossy)({ method: 'GET', url: `${dpopSandbox.urls.echo}/lossy` })
        .catch((e: unknown) => e);
      expect(driver.authrailError(error)).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID });
      expect(
        dpopSandbox.resourceRequests({ route: 'echo' }).filter((r) => r.path === '/echo/lossy'),
      ).toHaveLength(0);
    });
  },
);
