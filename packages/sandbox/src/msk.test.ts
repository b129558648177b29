import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { basic, bearer, form, json, mskTokenRequest, tokenOf } from '../test/helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({
    clients: [
      { service: 'mskApim', clientId: 'other', clientSecret: 'other-secret', researchStudies: ['20-123'] },
    ],
  });
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

describe('MSK APIM token endpoint', () => {
  test('client_secret_post, scope=full: Bearer token with consented_on, never cached', async () => {
    const res = await mskTokenRequest(sb);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[\w-]{40,}$/),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'full',
      consented_on: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(body.consented_on as string))).toBe(false);
    expect(sb.tokenRequests({ service: 'mskApim' })).toMatchObject([
      {
        clientAuth: 'client_secret_post',
        clientId: 'msk-demo-client',
        grantType: 'client_credentials',
        status: 200,
      },
    ]);
    expect(sb.issuedTokens({ service: 'mskApim' })).toBe(1);
  });

  test.each<[string, Record<string, string | null>, number, string]>([
    ['a wrong secret', { client_secret: 'wrong' }, 401, 'invalid_client'],
    ['an unknown client', { client_id: 'nobody' }, 401, 'invalid_client'],
    [
      "another service's client",
      { client_id: 'ctrp-demo-client', client_secret: 'ctrp-demo-secret' },
      401,
      'invalid_client',
    ],
    ['scope=read', { scope: 'read' }, 400, 'invalid_scope'],
    ['no scope', { scope: null }, 400, 'invalid_scope'],
    ['grant_type=password', { grant_type: 'password' }, 400, 'unsupported_grant_type'],
    ['no grant_type', { grant_type: null }, 400, 'invalid_request'],
  ])('%s → %i %s', async (_name, changes, status, error) => {
    const body = form({
      grant_type: 'client_credentials',
      scope: 'full',
      client_id: demoClients.mskApim.clientId,
      client_secret: demoClients.mskApim.clientSecret,
    });
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) body.delete(k);
      else body.set(k, v);
    }
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, { method: 'POST', body });
    expect(res.status).toBe(status);
    expect(await json(res)).toEqual({ error, error_description: expect.any(String) });
    expect(sb.tokenRequests()[0]?.status).toBe(status);
    expect(sb.issuedTokens()).toBe(0);
  });

  test('HTTP Basic is refused with invalid_client: MSK wants the secret in the form', async () => {
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, {
      method: 'POST',
      headers: { Authorization: basic(demoClients.mskApim.clientId, demoClients.mskApim.clientSecret) },
      body: form({ grant_type: 'client_credentials', scope: 'full' }),
    });
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringMatching(/Basic/),
    });
    expect(sb.tokenRequests()[0]).toMatchObject({
      clientAuth: 'client_secret_basic',
      clientId: 'msk-demo-client',
    });
  });

  test('no client authentication at all is invalid_client, recorded as none', async () => {
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'client_credentials',
        scope: 'full',
        client_id: demoClients.mskApim.clientId,
      }),
    });
    expect(res.status).toBe(401);
    expect(sb.tokenRequests()[0]?.clientAuth).toBe('none');
  });

  test('a JSON body is invalid_request; GET is 405 with Allow', async () => {
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: 'invalid_request' });
    const get = await fetch(sb.urls.mskApim.tokenEndpoint);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('MSK Blaze FHIR', () => {
  const fhir = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${sb.urls.mskApim.fhirBaseUrl}${path}`, { headers });

  test('Patient search: a Bundle tagged with the protocol, as application/fhir+json', async () => {
    const token = await tokenOf.mskApim(sb);
    const res = await fhir('/Patient?researchstudy=17-001', bearer(token));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    const bundle = (await res.json()) as {
      resourceType: string;
      entry: { resource: { resourceType: string; meta: { tag: { code: string }[] } } }[];
    };
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.entry.length).toBeGreaterThanOrEqual(2);
    for (const { resource } of bundle.entry) {
      expect(resource.resourceType).toBe('Patient');
      expect(resource.meta.tag[0]?.code).toBe('17-001');
    }
    expect(sb.resourceRequests({ route: 'msk-fhir' })[0]).toMatchObject({
      clientId: 'msk-demo-client',
      status: 200,
    });
  });

  test('Patient/:id, ResearchSubject and any other read', async () => {
    const token = await tokenOf.mskApim(sb);
    expect(await json(await fhir('/Patient/p1?researchstudy=12-245', bearer(token)))).toMatchObject({
      resourceType: 'Patient',
      id: 'p1',
      meta: { tag: [{ code: '12-245' }] },
    });
    const subjects = await json(await fhir('/ResearchSubject?researchstudy=12-245', bearer(token)));
    expect(subjects).toMatchObject({
      resourceType: 'Bundle',
      entry: [{ resource: { resourceType: 'ResearchSubject' } }, {}],
    });
    expect(await json(await fhir('/Observation?researchstudy=12-245', bearer(token)))).toMatchObject({
      resourceType: 'Bundle',
      total: 0,
    });
  });

  test('researchstudy is required, and only a granted protocol is served: 403 OperationOutcome', async () => {
    const token = await tokenOf.mskApim(sb);
    const missing = await fhir('/Patient', bearer(token));
    expect(missing.status).toBe(403);
    expect(missing.headers.get('content-type')).toBe('application/fhir+json');
    expect(await missing.json()).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', diagnostics: expect.stringContaining('researchstudy parameter is required') },
      ],
    });
    const other = await fhir('/Patient?researchstudy=20-123', bearer(token));
    expect(other.status).toBe(403);
    expect(JSON.stringify(await other.json())).toContain('20-123');
  });

  test('protocols are per client: a custom client sees its own protocol only', async () => {
    const res = await fetch(sb.urls.mskApim.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'client_credentials',
        scope: 'full',
        client_id: 'other',
        client_secret: 'other-secret',
      }),
    });
    const token = (await json(res)).access_token as string;
    expect((await fhir('/Patient?researchstudy=20-123', bearer(token))).status).toBe(200);
    expect((await fhir('/Patient?researchstudy=17-001', bearer(token))).status).toBe(403);
  });

  test('JSON only: other Accept values get 406; json, fhir+json and */* are fine', async () => {
    const token = await tokenOf.mskApim(sb);
    const get = (accept: string) =>
      fhir('/Patient?researchstudy=12-245', { ...bearer(token), Accept: accept });
    expect((await get('application/xml')).status).toBe(406);
    expect((await get('text/html')).status).toBe(406);
    expect((await get('application/fhir+json')).status).toBe(200);
    expect((await get('application/json')).status).toBe(200);
    expect((await get('*/*')).status).toBe(200);
  });

  test('reads only: POST is 405', async () => {
    const token = await tokenOf.mskApim(sb);
    const res = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`, {
      method: 'POST',
      headers: { ...bearer(token), 'Content-Type': 'application/fhir+json' },
      body: '{}',
    });
    expect(res.status).toBe(405);
  });

  test('401s: no token is a bare Bearer challenge; unknown and foreign tokens are invalid_token', async () => {
    const none = await fhir('/Patient?researchstudy=12-245');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const basicAuth = await fhir('/Patient?researchstudy=12-245', { Authorization: basic('a', 'b') });
    expect(basicAuth.headers.get('www-authenticate')).toBe('Bearer');
    const unknown = await fhir('/Patient?researchstudy=12-245', bearer('not-a-token'));
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    for (const foreign of [await tokenOf.okta(sb), await tokenOf.medblocks(sb)]) {
      const res = await fhir('/Patient?researchstudy=12-245', bearer(foreign));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
  });

  test('the Bearer scheme is case-insensitive', async () => {
    const token = await tokenOf.mskApim(sb);
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await fhir('/Patient?researchstudy=12-245', { Authorization: `${scheme} ${token}` });
      expect(res.status).toBe(200);
    }
  });
});
