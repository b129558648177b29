import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import {
  bearer,
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

/** Sends raw bytes to the sandbox and returns whatever comes back before the socket closes. */
function raw(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(bytes));
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(2_000, () => socket.destroy());
  });
}

describe('urls', () => {
  test('every service at its real path on 127.0.0.1; elsewhere is another origin', () => {
    expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sb.urls).toEqual({
      mskApim: {
        baseUrl: sb.url,
        tokenEndpoint: `${sb.url}/msk-apim/external/msk-oidc/oauth2/token`,
        fhirBaseUrl: `${sb.url}/msk-apim/external/blaze/fhir`,
      },
      okta: { issuer: `${sb.url}/oauth2/default`, tokenEndpoint: `${sb.url}/oauth2/default/v1/token` },
      ctrp: { baseUrl: `${sb.url}/ctrp` },
      medblocks: {
        baseUrl: `${sb.url}/medblocks`,
        tokenEndpoint: `${sb.url}/medblocks/oauth2/token`,
        authorizeEndpoint: `${sb.url}/medblocks/oauth2/auth`,
        revocationEndpoint: `${sb.url}/medblocks/oauth2/revoke`,
        fhirBaseUrl: `${sb.url}/medblocks/fhir`,
        deviceAuthorizationEndpoint: `${sb.url}/medblocks/oauth2/device/auth`,
        deviceVerificationUri: `${sb.url}/medblocks/device`,
      },
      smart: {
        fhirBaseUrl: `${sb.url}/smart/fhir`,
        configurationUrl: `${sb.url}/smart/fhir/.well-known/smart-configuration`,
        tokenEndpoint: `${sb.url}/smart/auth/token`,
        authorizeEndpoint: `${sb.url}/smart/auth/authorize`,
      },
      echo: `${sb.url}/echo`,
      redirect: `${sb.url}/redirect`,
      elsewhere: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
    expect(new URL(sb.urls.elsewhere).origin).not.toBe(new URL(sb.url).origin);
  });

  test('port: the main listener takes the given port; a taken port is refused', async () => {
    const probe = await startSandbox();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const fixed = await startSandbox({ port });
    try {
      expect(fixed.url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${fixed.urls.medblocks.baseUrl}/.well-known/openid-configuration`)).status).toBe(
        200,
      );
      await expect(startSandbox({ port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await fixed.close();
    }
  });
});

describe('echo', () => {
  test('any method, any subpath: answers what it received, byte for byte', async () => {
    const token = await tokenOf.medblocks(sb);
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const res = await fetch(`${sb.urls.echo}/any/path?x=1&y=two`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'Content-Type': 'application/octet-stream', 'X-Custom': 'yes' },
      body: bytes,
    });
    expect(res.status).toBe(200);
    const echoed = await json(res);
    expect(echoed).toMatchObject({
      method: 'PATCH',
      path: '/echo/any/path',
      query: { x: '1', y: 'two' },
      headers: { 'x-custom': 'yes', authorization: `Bearer ${token}` },
      contentType: 'application/octet-stream',
    });
    expect(Buffer.from(echoed.bodyBase64 as string, 'base64')).toEqual(Buffer.from(bytes));
  });

  test('takes a valid token of any service; refuses none, unknown and revoked', async () => {
    for (const token of [await tokenOf.mskApim(sb), await tokenOf.okta(sb), await tokenOf.medblocks(sb)]) {
      expect((await fetch(`${sb.urls.echo}/x`, { method: 'DELETE', headers: bearer(token) })).status).toBe(
        200,
      );
    }
    const none = await fetch(sb.urls.echo);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const unknown = await fetch(sb.urls.echo, { headers: bearer('nope') });
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const token = await tokenOf.okta(sb);
    sb.revokeTokens({ service: 'okta' });
    const revoked = await fetch(sb.urls.echo, { headers: bearer(token) });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toMatch(/error="invalid_token".*revoked/);
  });

  test('bodies of a few MB are fine; more than 8 MiB is 413, and the server goes on', async () => {
    const token = await tokenOf.mskApim(sb);
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const ok = await fetch(sb.urls.echo, { method: 'POST', headers: bearer(token), body: big });
    expect(ok.status).toBe(200);
    expect(Buffer.from((await json(ok)).bodyBase64 as string, 'base64').equals(big)).toBe(true);
    const tooBig = await fetch(sb.urls.echo, {
      method: 'POST',
      headers: bearer(token),
      body: Buffer.alloc(9 * 1024 * 1024),
    });
    expect(tooBig.status).toBe(413);
    expect((await fetch(sb.urls.echo, { headers: bearer(token) })).status).toBe(200);
  });
});

describe('redirect and elsewhere', () => {
  test('redirect: 302 by default or the given status, no auth needed; bad input is 400', async () => {
    const to = `${sb.urls.elsewhere}/landing?a=1`;
    const plain = await fetch(`${sb.urls.redirect}?to=${encodeURIComponent(to)}`, { redirect: 'manual' });
    expect([plain.status, plain.headers.get('location')]).toEqual([302, to]);
    const temporary = await fetch(`${sb.urls.redirect}?to=${encodeURIComponent(to)}&status=307`, {
      redirect: 'manual',
    });
    expect(temporary.status).toBe(307);
    for (const query of [
      '',
      '?to=javascript:alert(1)',
      '?to=/relative',
      `?to=${encodeURIComponent(to)}&status=200`,
    ]) {
      expect((await fetch(`${sb.urls.redirect}${query}`, { redirect: 'manual' })).status).toBe(400);
    }
    const followed = await fetch(`${sb.urls.redirect}?to=${encodeURIComponent(to)}`);
    expect(await json(followed)).toMatchObject({ path: '/landing', query: { a: '1' } });
  });

  test('elsewhere: any method and path, answers what it got and records it as listener elsewhere', async () => {
    const res = await fetch(`${sb.urls.elsewhere}/deep/path?q=1`, {
      method: 'PUT',
      headers: { 'X-Probe': '1', 'Content-Type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(200);
    const echoed = await json(res);
    expect(echoed).toMatchObject({
      method: 'PUT',
      path: '/deep/path',
      query: { q: '1' },
      headers: { 'x-probe': '1' },
    });
    expect(Buffer.from(echoed.bodyBase64 as string, 'base64').toString()).toBe('hello');
    expect(sb.requests).toMatchObject([
      { listener: 'elsewhere', method: 'PUT', path: '/deep/path', headers: { 'x-probe': '1' }, status: 200 },
    ]);
    expect(sb.requests[0]?.route).toBeUndefined();
    expect(sb.requests[0]?.body.toString()).toBe('hello');
  });

  test('elsewhere answers a preflight with 200 and CORS, so a browser leak is recorded rather than blocked', async () => {
    const res = await fetch(`${sb.urls.elsewhere}/x`, {
      method: 'OPTIONS',
      headers: {
        Origin: sb.url,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(sb.url);
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(sb.requests.at(-1)).toMatchObject({ listener: 'elsewhere', method: 'OPTIONS' });
  });

  test('a redirect to elsewhere proves whether credentials followed', async () => {
    const token = await tokenOf.mskApim(sb);
    await fetch(`${sb.urls.redirect}?to=${encodeURIComponent(`${sb.urls.elsewhere}/next`)}`, {
      headers: bearer(token),
    });
    const landed = sb.requests.find((r) => r.listener === 'elsewhere');
    expect(landed?.path).toBe('/next');
    expect(landed?.headers.authorization).toBeUndefined(); // fetch itself drops it across origins
  });
});

describe('records and counters', () => {
  test('requests: every request to either listener, in order, with status and time', async () => {
    const before = Date.now();
    await mskTokenRequest(sb);
    await fetch(`${sb.urls.elsewhere}/a`);
    await fetch(`${sb.url}/nothing-here?x=1`);
    expect(sb.requests).toMatchObject([
      { listener: 'main', route: 'msk-token', method: 'POST', status: 200 },
      { listener: 'elsewhere', path: '/a', status: 200 },
      { listener: 'main', path: '/nothing-here', query: { x: '1' }, status: 404 },
    ]);
    for (const r of sb.requests) expect(r.time).toBeGreaterThanOrEqual(before);
    expect(sb.requests[0]?.body.toString()).toContain('grant_type=client_credentials');
  });

  test('tokenRequests filter by service and client, failed ones included; resourceRequests by route', async () => {
    await mskTokenRequest(sb);
    await mskTokenRequest(sb, { client_secret: 'wrong' });
    await oktaTokenRequest(sb);
    await medblocksTokenRequest(sb);
    expect(sb.tokenRequests()).toHaveLength(4);
    expect(sb.tokenRequests({ service: 'mskApim' }).map((r) => r.status)).toEqual([200, 401]);
    expect(sb.tokenRequests({ clientId: demoClients.okta.clientId })).toHaveLength(1);
    expect(sb.tokenRequests({ service: 'okta', clientId: demoClients.mskApim.clientId })).toHaveLength(0);
    const token = await tokenOf.mskApim(sb);
    await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`, { headers: bearer(token) });
    await fetch(sb.urls.echo, { headers: bearer(token) });
    await fetch(sb.urls.echo);
    expect(sb.resourceRequests()).toHaveLength(3);
    expect(sb.resourceRequests({ route: 'echo' }).map((r) => r.status)).toEqual([200, 401]);
    expect(sb.resourceRequests({ route: 'msk-fhir' })[0]?.clientId).toBe(demoClients.mskApim.clientId);
  });

  test('clientAuth is read from the request itself: basic, post or none', async () => {
    await oktaTokenRequest(sb);
    await mskTokenRequest(sb);
    await fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: 'x',
        client_id: 'medblocks-demo-spa',
      }),
    });
    expect(sb.tokenRequests().map((r) => [r.clientAuth, r.grantType])).toEqual([
      ['client_secret_basic', 'client_credentials'],
      ['client_secret_post', 'client_credentials'],
      ['none', 'refresh_token'],
    ]);
  });

  test('revokeTokens: by service or client, counted; revoked tokens get 401 invalid_token, new ones work', async () => {
    const msk = await tokenOf.mskApim(sb);
    await tokenOf.mskApim(sb);
    const okta = await tokenOf.okta(sb);
    expect(sb.issuedTokens()).toBe(3);
    expect(sb.issuedTokens({ service: 'mskApim' })).toBe(2);
    expect(sb.issuedTokens({ clientId: demoClients.okta.clientId })).toBe(1);
    expect(sb.revokeTokens({ clientId: demoClients.mskApim.clientId })).toBe(2);
    expect(sb.revokeTokens({ service: 'mskApim' })).toBe(0);
    const refused = await fetch(`${sb.urls.mskApim.fhirBaseUrl}/Patient?researchstudy=12-245`, {
      headers: bearer(msk),
    });
    expect([refused.status, refused.headers.get('www-authenticate')]).toEqual([
      401,
      'Bearer error="invalid_token", error_description="The access token was revoked"',
    ]);
    expect((await fetch(sb.urls.echo, { headers: bearer(okta) })).status).toBe(200);
    const fresh = await tokenOf.mskApim(sb);
    expect((await fetch(sb.urls.echo, { headers: bearer(fresh) })).status).toBe(200);
    expect(sb.revokeTokens()).toBe(2);
  });

  test('reset forgets records, faults and tokens', async () => {
    const token = await tokenOf.okta(sb);
    sb.inject('echo', { type: 'status', status: 500 });
    sb.reset();
    expect([sb.requests.length, sb.issuedTokens()]).toEqual([0, 0]);
    const res = await fetch(sb.urls.echo, { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });
});

describe('token lifetimes', () => {
  test('per service: expires_in as configured; an expired token is 401 "The access token expired"', async () => {
    const short = await startSandbox({ tokenLifetimeSeconds: { okta: 1, medblocks: 2 } });
    try {
      const okta = await json(await oktaTokenRequest(short));
      expect(okta.expires_in).toBe(1);
      expect((await json(await medblocksTokenRequest(short))).expires_in).toBe(2);
      const msk = await json(await mskTokenRequest(short));
      expect(msk.expires_in).toBe(3600);
      await sleep(1_050);
      const late = await fetch(`${short.urls.ctrp.baseUrl}/accrual-services/trials/nci/T1/sites/po/1`, {
        headers: bearer(okta.access_token as string),
      });
      expect(late.status).toBe(401);
      expect(late.headers.get('www-authenticate')).toBe(
        'Bearer error="invalid_token", error_description="The access token expired"',
      );
      expect((await fetch(short.urls.echo, { headers: bearer(msk.access_token as string) })).status).toBe(
        200,
      );
    } finally {
      await short.close();
    }
  });

  test('one number for every service', async () => {
    const own = await startSandbox({ tokenLifetimeSeconds: 120 });
    try {
      expect((await json(await mskTokenRequest(own))).expires_in).toBe(120);
      expect((await json(await oktaTokenRequest(own))).expires_in).toBe(120);
      expect((await json(await medblocksTokenRequest(own))).expires_in).toBe(120);
    } finally {
      await own.close();
    }
  });

  test.each([0, -1, Number.NaN, { okta: 0 }])('a bad lifetime %j is refused', async (lifetime) => {
    await expect(startSandbox({ tokenLifetimeSeconds: lifetime })).rejects.toThrow(/tokenLifetimeSeconds/);
  });

  test('a client without id is refused', async () => {
    await expect(startSandbox({ clients: [{ service: 'okta', clientId: '' }] })).rejects.toThrow(/clientId/);
  });
});

describe('malformed input never crashes the server', () => {
  test('broken HTTP gets 400; an odd request target is a path, not a host', async () => {
    expect(await raw(sb.url, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    const target = await raw(
      sb.url,
      'GET //evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(target).toMatch(/^HTTP\/1\.1 404/);
    expect(sb.requests.at(-1)?.path).toBe('//evil.example/x');
    const absolute = await raw(
      sb.url,
      'GET http://127.0.0.1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 401/);
    expect((await fetch(`${sb.url}/echo?a=%ZZ&b`)).status).toBe(401);
    expect((await fetch(`${sb.urls.medblocks.baseUrl}/.well-known/openid-configuration`)).status).toBe(200);
  });

  test('garbage bodies and headers at token endpoints are 4xx', async () => {
    const statuses = await Promise.all([
      fetch(sb.urls.okta.tokenEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{',
      }),
      fetch(sb.urls.okta.tokenEndpoint, {
        method: 'POST',
        headers: { Authorization: 'Basic %%%' },
        body: new URLSearchParams(),
      }),
      fetch(sb.urls.medblocks.tokenEndpoint, { method: 'POST', body: new Uint8Array([0xff, 0xfe, 0x00]) }),
      fetch(sb.urls.mskApim.tokenEndpoint, { method: 'POST', body: new URLSearchParams('%E0%A4%A=1&&&=') }),
      fetch(sb.urls.medblocks.authorizeEndpoint, { method: 'PUT' }),
    ]).then((all) => all.map((r) => r.status));
    for (const status of statuses) expect(status).toBeGreaterThanOrEqual(400);
    for (const status of statuses) expect(status).toBeLessThan(500);
  });
});

describe('close()', () => {
  test('with idle keep-alive connections and a request in flight, it resolves promptly; twice is fine', async () => {
    const own = await startSandbox();
    const agent = new Agent({ keepAlive: true });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`${own.url}/nothing`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(404);
    own.inject('echo', { type: 'delay', ms: 5_000 });
    const inFlight = fetch(own.urls.echo).then(
      (r) => r.status,
      (error: unknown) => error,
    );
    await sleep(30);
    const started = performance.now();
    await Promise.all([own.close(), own.close()]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await inFlight).toBeInstanceOf(TypeError);
    await expect(fetch(own.url)).rejects.toThrow(TypeError);
    await expect(fetch(own.urls.elsewhere)).rejects.toThrow(TypeError);
    agent.destroy();
  });
});
