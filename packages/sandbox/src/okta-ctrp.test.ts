import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { basic, bearer, form, json, oktaTokenRequest, tokenOf } from '../test/helpers.js';

let sb: Sandbox;
// A client whose id and secret need RFC 6749 §2.3.1 form-encoding inside the Basic header.
const awkward = { clientId: 'ctrp client:1', clientSecret: 'p@ss word+%/é' };
beforeAll(async () => {
  sb = await startSandbox({ clients: [{ service: 'okta', ...awkward, scopes: ['ctrp.read'] }] });
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

describe('Okta token endpoint', () => {
  test('client_secret_basic: Bearer token with the requested scope', async () => {
    const res = await oktaTokenRequest(sb);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await json(res)).toEqual({
      token_type: 'Bearer',
      expires_in: 3600,
      access_token: expect.any(String),
      scope: 'ctrp.accrual',
    });
    expect(sb.tokenRequests({ service: 'okta' })).toMatchObject([
      { clientAuth: 'client_secret_basic', clientId: 'ctrp-demo-client', grantType: 'client_credentials' },
    ]);
  });

  test('client_secret_post works too, and several scopes at once', async () => {
    const res = await fetch(sb.urls.okta.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: 'client_credentials',
        scope: 'ctrp.read ctrp.accrual',
        client_id: demoClients.okta.clientId,
        client_secret: demoClients.okta.clientSecret,
      }),
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ scope: 'ctrp.read ctrp.accrual' });
    expect(sb.tokenRequests({ clientId: demoClients.okta.clientId })[0]?.clientAuth).toBe(
      'client_secret_post',
    );
  });

  test('Basic credentials are form-decoded (RFC 6749 §2.3.1)', async () => {
    const res = await oktaTokenRequest(sb, 'ctrp.read', basic(awkward.clientId, awkward.clientSecret));
    expect(res.status).toBe(200);
    expect(sb.tokenRequests()[0]?.clientId).toBe(awkward.clientId);
  });

  test.each([
    ['a wrong secret', basic(demoClients.okta.clientId, 'nope')],
    ['an unknown client', basic('nobody', 'x')],
    ['a Basic header that is not Base64 of id:secret', 'Basic !!!'],
    ['no credentials', ''],
  ])('%s → 401 invalid_client', async (_name, auth) => {
    const res = await oktaTokenRequest(sb, 'ctrp.accrual', auth);
    expect(res.status).toBe(401);
    expect(await json(res)).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(/^Client authentication failed/),
    });
  });

  test('an unknown scope or no scope is 400 invalid_scope', async () => {
    const unknown = await oktaTokenRequest(sb, 'ctrp.admin');
    expect(unknown.status).toBe(400);
    expect(await json(unknown)).toEqual({
      error: 'invalid_scope',
      error_description: expect.stringContaining('ctrp.admin'),
    });
    const none = await oktaTokenRequest(sb, '');
    expect(none.status).toBe(400);
    expect(await json(none)).toMatchObject({ error: 'invalid_scope' });
  });

  test('grant_type: missing is invalid_request, another is unsupported_grant_type', async () => {
    const auth = basic(demoClients.okta.clientId, demoClients.okta.clientSecret);
    const post = (body: URLSearchParams) =>
      fetch(sb.urls.okta.tokenEndpoint, { method: 'POST', headers: { Authorization: auth }, body });
    expect(await json(await post(form({ scope: 'ctrp.read' })))).toMatchObject({ error: 'invalid_request' });
    const password = await post(form({ grant_type: 'password', scope: 'ctrp.read' }));
    expect(password.status).toBe(400);
    expect(await json(password)).toMatchObject({ error: 'unsupported_grant_type' });
  });

  describe('token exchange (RFC 8693, Okta On-Behalf-Of)', () => {
    const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const AT = 'urn:ietf:params:oauth:token-type:access_token';
    /** A token exchange by the awkward client (the "gateway") for `subject`. */
    const exchange = (fields: Record<string, string>) =>
      fetch(sb.urls.okta.tokenEndpoint, {
        method: 'POST',
        headers: { Authorization: basic(awkward.clientId, awkward.clientSecret) },
        body: form({
          grant_type: TOKEN_EXCHANGE,
          subject_token_type: AT,
          audience: 'api://ctrp',
          scope: 'ctrp.read',
          ...fields,
        }),
      });

    test('a live subject token is exchanged; the new token acts for its subject on the API', async () => {
      const subjectToken = await tokenOf.okta(sb, 'ctrp.read');
      const res = await exchange({ subject_token: subjectToken });
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body).toEqual({
        token_type: 'Bearer',
        expires_in: 3600,
        access_token: expect.any(String),
        scope: 'ctrp.read',
        issued_token_type: AT,
      });
      expect(body.access_token).not.toBe(subjectToken);
      expect(sb.tokenRequests({ clientId: awkward.clientId })).toMatchObject([
        { grantType: TOKEN_EXCHANGE, status: 200 },
      ]);
      const echo = await fetch(`${sb.url}/echo`, { headers: bearer(body.access_token as string) });
      expect(echo.status).toBe(200);
      expect(sb.resourceRequests({ route: 'echo' }).at(-1)).toMatchObject({
        clientId: awkward.clientId,
        subject: demoClients.okta.clientId,
      });
    });

    test.each([
      ['an unknown subject token', { subject_token: 'not-issued-here' }, 'invalid_grant'],
      ['no subject_token_type', { subject_token: 'x', subject_token_type: '' }, 'invalid_request'],
      ['no audience', { subject_token: 'x', audience: '' }, 'invalid_request'],
    ])('%s → 400 %s', async (_name, fields, error) => {
      const res = await exchange(fields);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error });
    });

    test('a revoked subject token is refused with invalid_grant', async () => {
      const subjectToken = await tokenOf.okta(sb, 'ctrp.read');
      sb.revokeTokens({ clientId: demoClients.okta.clientId });
      const res = await exchange({ subject_token: subjectToken });
      expect(res.status).toBe(400);
      expect(await json(res)).toEqual({
        error: 'invalid_grant',
        error_description: "The 'subject_token' is invalid.",
      });
    });
  });

  test('an unknown authorization server is a 404 in Okta errorCode shape (token and metadata)', async () => {
    for (const path of [
      '/oauth2/aus-unknown/v1/token',
      '/oauth2/aus-unknown/.well-known/openid-configuration',
    ]) {
      const res = await fetch(`${sb.url}${path}`, {
        method: path.endsWith('token') ? 'POST' : 'GET',
        body: path.endsWith('token') ? form({ grant_type: 'client_credentials' }) : undefined,
      });
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({
        errorCode: 'E0000007',
        errorSummary: 'Not found: Resource not found: aus-unknown (AuthorizationServer)',
        errorLink: 'E0000007',
        errorId: expect.stringMatching(/^oae.+/),
        errorCauses: [],
      });
    }
    expect(sb.tokenRequests({ service: 'okta' })).toHaveLength(1);
  });

  test.each(['oauth-authorization-server', 'openid-configuration'])(
    'metadata at /.well-known/%s',
    async (name) => {
      const res = await fetch(`${sb.urls.okta.issuer}/.well-known/${name}`);
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({
        issuer: sb.urls.okta.issuer,
        token_endpoint: sb.urls.okta.tokenEndpoint,
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        grant_types_supported: [
          'client_credentials',
          'urn:ietf:params:oauth:grant-type:token-exchange',
          'urn:ietf:params:oauth:grant-type:jwt-bearer',
        ],
      });
    },
  );

  test('urls follow Okta: issuer /oauth2/default, token at {issuer}/v1/token', () => {
    expect(sb.urls.okta).toEqual({
      issuer: `${sb.url}/oauth2/default`,
      tokenEndpoint: `${sb.url}/oauth2/default/v1/token`,
    });
  });
});

describe('CTRP accrual', () => {
  const accrual = (trial = 'NCI-2024-00001') =>
    `${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/${trial}/sites/po/123`;
  const xml =
    '<?xml version="1.0"?><accrual><studySubject><id>1</id></studySubject><studySubject><id>2</id></studySubject><patient id="3"/></accrual>';
  const put = (token: string | undefined, body: string, contentType = 'application/xml') =>
    fetch(accrual(), {
      method: 'PUT',
      headers: { ...(token ? bearer(token) : {}), 'Content-Type': contentType },
      body,
    });

  test('PUT XML under an Okta token with ctrp.accrual: 200 XML echoing trial, site and subject count', async () => {
    const res = await put(await tokenOf.okta(sb), xml);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml');
    const text = await res.text();
    expect(text).toMatch(/^<\?xml/);
    expect(text).toContain('<trialId>NCI-2024-00001</trialId>');
    expect(text).toContain('<poId>123</poId>');
    expect(text).toContain('<subjects>3</subjects>');
    expect(sb.resourceRequests({ route: 'ctrp-accrual' })[0]).toMatchObject({
      method: 'PUT',
      clientId: 'ctrp-demo-client',
      status: 200,
      headers: { 'content-type': 'application/xml' },
    });
    expect(sb.resourceRequests({ route: 'ctrp-accrual' })[0]?.body.toString()).toBe(xml);
  });

  test('text/xml with a charset is XML too', async () => {
    expect((await put(await tokenOf.okta(sb), xml, 'text/xml; charset=utf-8')).status).toBe(200);
  });

  test('GET the same path: an XML summary (ctrp.read is enough)', async () => {
    const res = await fetch(accrual(), { headers: bearer(await tokenOf.okta(sb, 'ctrp.read')) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toContain(
      '<accrualSummary><idType>nci</idType><trialId>NCI-2024-00001</trialId>',
    );
  });

  test('415 for another content type; 400 for an empty or non-XML body', async () => {
    const token = await tokenOf.okta(sb);
    const json415 = await put(token, '{}', 'application/json');
    expect(json415.status).toBe(415);
    expect(json415.headers.get('content-type')).toBe('application/xml');
    expect((await put(token, '', 'application/xml')).status).toBe(400);
    expect((await put(token, 'plain text', 'application/xml')).status).toBe(400);
  });

  test('a token without ctrp.accrual is 403 insufficient_scope', async () => {
    const res = await put(await tokenOf.okta(sb, 'ctrp.read'), xml);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope"/);
  });

  test('no token → bare Bearer; a token of another service → invalid_token', async () => {
    const none = await put(undefined, xml);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const msk = await put(await tokenOf.mskApim(sb), xml);
    expect(msk.status).toBe(401);
    expect(msk.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test('other methods are 405; other CTRP paths 404', async () => {
    const token = await tokenOf.okta(sb);
    const del = await fetch(accrual(), { method: 'DELETE', headers: bearer(token) });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, PUT');
    expect(
      (await fetch(`${sb.urls.ctrp.baseUrl}/accrual-services/other`, { headers: bearer(token) })).status,
    ).toBe(404);
  });

  test('path values are XML-escaped in the answer', async () => {
    const res = await fetch(accrual('a%3Cb%3E'), {
      method: 'PUT',
      headers: { ...bearer(await tokenOf.okta(sb)), 'Content-Type': 'application/xml' },
      body: xml,
    });
    expect(await res.text()).toContain('<trialId>a&#60;b&#62;</trialId>');
  });
});
