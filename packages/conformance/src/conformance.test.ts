// The adapter conformance table: the same guarantees, the same assertions, for every
// adapter (fetch, ky 2, ky 1, axios), over real HTTP against the sandbox.
import { describe, expect, test } from 'vitest';
import { inspect } from 'node:util';
import {
  ErrorCodes,
  MissingScopeError,
  createAuthStrategy,
  createTokenManager,
  isTokenEndpointError,
  type RejectedEvent,
} from '@authrail/core';
import { clientCredentials, clientSecretPost } from '@authrail/oauth2';
import { mskApim, type MskApimOptions } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { demoClients, type RecordedRequest } from '@authrail/sandbox';
import { BINARY, JSON_BODY, XML_BODY, drivers, type BodyKind, type Driver } from './drivers.js';
import { useSandbox } from '@authrail/test-utils';

const sb = useSandbox();

function msk(extra: Partial<MskApimOptions> = {}, on: { rejected?: (e: RejectedEvent) => void } = {}) {
  return mskApim({
    baseUrl: sb.urls.mskApim.baseUrl,
    ...demoClients.mskApim,
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

  test.each([302, 307])(
    '2. a %i redirect to another origin does not carry the credential',
    async (status) => {
      const send = driver.client(msk());
      const target = `${sb.urls.elsewhere}/landing`;
      const result = await send({
        method: 'GET',
        url: `${sb.urls.redirect}?to=${encodeURIComponent(target)}&status=${status}`,
      });
      expect(result.status).toBe(200);
      const [first] = sb.requests.filter((r) => r.path === '/redirect');
      expect(first?.headers.authorization).toMatch(/^Bearer /); // the allowed origin got it…
      const [landed] = elsewhere();
      expect(landed?.path).toBe('/landing');
      expect(landed?.headers.authorization).toBeUndefined(); // …the other origin did not
      expect(landed?.query).toEqual({}); // nor the scope parameter
    },
  );

  test('3. protocol scoping: default added, explicit kept, required and missing refused before sending', async () => {
    const send = driver.client(msk());
    expect((await send({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient` })).status).toBe(200);
    expect(
      (await send({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245` }))
        .status,
    ).toBe(200);
    expect(echoed('msk-fhir').map((r) => r.query.researchstudy)).toEqual(['17-001', '12-245']);
    sb.reset();
    const strategy = msk({ researchStudy: undefined });
    let authorized = 0;
    const unscoped = driver.client({
      authorize: (...args) => ((authorized += 1), strategy.authorize(...args)),
      isRejected: strategy.isRejected,
      reject: strategy.reject,
    });
    const error = await unscoped({ method: 'GET', url: `${sb.urls.mskApim.fhirBaseUrl}/Patient` }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingScopeError);
    expect(sb.requests).toHaveLength(0); // not even a token request
    expect(authorized).toBe(1); // the client did not retry it either
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
      expect(attempts[0]!.headers['content-type']).toBe(
        attempts[1]!.headers['content-type']?.replace(
          /boundary=.*/,
          attempts[0]!.headers['content-type']?.match(/boundary=.*/)?.[0] ?? '',
        ),
      );
      const check = expectedBody(kind);
      for (const attempt of attempts) check(attempt.body, attempt);
      if (kind !== 'formdata' || driver.name !== 'axios')
        expect(attempts[1]!.body.equals(attempts[0]!.body)).toBe(true);
      else expect(normalise(attempts[1]!)).toBe(normalise(attempts[0]!));
      expect(events).toEqual([
        expect.objectContaining({ method: 'POST', replay: true, reason: 'replaying' }),
      ]);
    },
  );

  test('4. the CTRP accrual PUT with an XML body is replayed byte for byte under a fresh Okta token', async () => {
    const send = driver.client(
      oktaClientCredentials({
        issuer: sb.urls.okta.issuer,
        ...demoClients.okta,
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
    const outcome = await send({ method: 'POST', url: `${sb.urls.echo}/stream`, body: 'stream' }).then(
      (r) => r.status,
      (e: unknown) => driver.httpErrorStatus(e) ?? e,
    );
    expect(outcome).toBe(401);
    expect(echoed().filter((r) => r.path === '/echo/stream')).toHaveLength(1);
    expect(events).toEqual([
      expect.objectContaining({
        replay: false,
        reason: 'body-not-replayable',
        detail: 'one-shot stream body',
      }),
    ]);
  });

  test('5. always 401: exactly two requests reach the server; the caller sees the 401 as the client reports it', async () => {
    const send = driver.client(msk());
    sb.inject('echo', { type: 'unauthorized' });
    const outcome = await send({ method: 'GET', url: `${sb.urls.echo}/always` }).then(
      (r) => ({ returned: r.status }),
      (e: unknown) => ({ thrown: driver.httpErrorStatus(e) }),
    );
    expect(outcome).toEqual(driver.name === 'fetch' ? { returned: 401 } : { thrown: 401 });
    expect(echoed()).toHaveLength(2);
    expect(sb.tokenRequests()).toHaveLength(2);
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
    const error = await send({ method: 'GET', url: `${sb.urls.echo}/x` }).catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status: 503 });
    const rendered = [
      String(error),
      JSON.stringify(error),
      inspect(error, { depth: 10, showHidden: true }),
    ].join('\n');
    expect(rendered).not.toContain(demoClients.mskApim.clientSecret);
    expect(sb.tokenRequests()).toHaveLength(2);
    expect(echoed()).toHaveLength(0);
  });
});
