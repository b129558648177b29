// The Medblocks device flow (RFC 8628), over plain HTTP: the code pair, the polls'
// answers, the verification page, and the programmatic decisions tests use.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { form, json } from '../test/helpers.js';

const CLI = demoClients.medblocksCli.clientId;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ device: { intervalSeconds: 1, expiresInSeconds: 60 } });
});
afterAll(() => sb.close());
afterEach(() => sb.reset());

interface CodePair {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

async function codePair(target = sb, fields: Record<string, string> = {}): Promise<CodePair> {
  const res = await fetch(target.urls.medblocks.deviceAuthorizationEndpoint, {
    method: 'POST',
    body: form({ client_id: CLI, scope: 'openid offline_access user/*.read', ...fields }),
  });
  expect(res.status).toBe(200);
  return (await json(res)) as unknown as CodePair;
}

async function poll(
  deviceCode: string,
  target = sb,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(target.urls.medblocks.tokenEndpoint, {
    method: 'POST',
    body: form({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: CLI }),
  });
  return { status: res.status, body: await json(res) };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Medblocks device flow', () => {
  test('discovery names the endpoint and the grant', async () => {
    const meta = await json(await fetch(`${sb.urls.medblocks.baseUrl}/.well-known/openid-configuration`));
    expect(meta.device_authorization_endpoint).toBe(sb.urls.medblocks.deviceAuthorizationEndpoint);
    expect(meta.grant_types_supported).toContain(DEVICE_GRANT);
  });

  test('a code pair, pending polls, slow_down for polling too fast, tokens once approved, then used up', async () => {
    const pair = await codePair();
    expect(pair).toMatchObject({
      user_code: expect.stringMatching(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/),
      verification_uri: sb.urls.medblocks.deviceVerificationUri,
      verification_uri_complete: `${sb.urls.medblocks.deviceVerificationUri}?user_code=${pair.user_code}`,
      expires_in: 60,
      interval: 1,
    });
    expect(sb.requests.filter((r) => r.route === 'medblocks-device')).toHaveLength(1);
    expect(await poll(pair.device_code)).toMatchObject({
      status: 400,
      body: { error: 'authorization_pending' },
    });
    expect(await poll(pair.device_code)).toMatchObject({ status: 400, body: { error: 'slow_down' } });
    await wait(6_000); // the interval is now 1 + 5 s
    expect((await poll(pair.device_code)).body.error).toBe('authorization_pending');
    sb.approveDevice(pair.user_code.toLowerCase().replace('-', ''));
    await wait(6_000);
    const tokens = await poll(pair.device_code);
    expect(tokens).toMatchObject({
      status: 200,
      body: {
        token_type: 'bearer',
        scope: 'openid offline_access user/*.read',
        refresh_token: expect.any(String),
      },
    });
    const api = await fetch(`${sb.urls.medblocks.fhirBaseUrl}/Patient`, {
      headers: { Authorization: `Bearer ${String(tokens.body.access_token)}` },
    });
    expect(api.status).toBe(200);
    expect(await poll(pair.device_code)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(sb.tokenRequests({ clientId: CLI }).map((r) => r.grantType)).toEqual(Array(5).fill(DEVICE_GRANT));
  }, 20_000);

  test('the verification page: GET shows the form with the code; POST signs in and approves', async () => {
    const pair = await codePair();
    const page = await fetch(pair.verification_uri_complete);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(`name="user_code" value="${pair.user_code}"`);
    expect(html).toMatch(/name="decision" value="approve"/);
    expect(html).not.toContain(pair.device_code);
    const post = (fields: Record<string, string>) =>
      fetch(pair.verification_uri, { method: 'POST', body: form({ user_code: pair.user_code, ...fields }) });
    const wrong = await post({ username: 'demo', password: 'nope', decision: 'approve' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong username or password.');
    const ok = await post({ username: 'demo', password: 'demo', decision: 'approve' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Signed in');
    expect((await poll(pair.device_code)).status).toBe(200);
    // Decided: the code no longer waits.
    expect((await post({ username: 'demo', password: 'demo', decision: 'approve' })).status).toBe(400);
  });

  test('denied on the page: the next poll is access_denied, and the code is used up', async () => {
    const pair = await codePair();
    const denied = await fetch(pair.verification_uri, {
      method: 'POST',
      body: form({ user_code: pair.user_code, username: 'demo', password: 'demo', decision: 'deny' }),
    });
    expect(await denied.text()).toContain('Denied');
    expect(await poll(pair.device_code)).toMatchObject({ status: 400, body: { error: 'access_denied' } });
    expect((await poll(pair.device_code)).body.error).toBe('invalid_grant');
  });

  test('denyDevice, and an expired code: access_denied and expired_token', async () => {
    const pair = await codePair();
    sb.denyDevice(pair.user_code);
    expect((await poll(pair.device_code)).body.error).toBe('access_denied');
    const short = await startSandbox({ device: { intervalSeconds: 1, expiresInSeconds: 1 } });
    try {
      const dying = await codePair(short);
      await wait(1_100);
      expect(await poll(dying.device_code, short)).toMatchObject({
        status: 400,
        body: { error: 'expired_token' },
      });
      expect(() => short.approveDevice(dying.user_code)).toThrow(TypeError);
    } finally {
      await short.close();
    }
  });

  test('another client cannot redeem the code; an unknown client gets no code pair', async () => {
    const pair = await codePair();
    sb.approveDevice(pair.user_code);
    const stolen = await fetch(sb.urls.medblocks.tokenEndpoint, {
      method: 'POST',
      body: form({
        grant_type: DEVICE_GRANT,
        device_code: pair.device_code,
        client_id: demoClients.medblocksSpa.clientId,
      }),
    });
    expect((await json(stolen)).error).toBe('invalid_grant');
    const unknown = await fetch(sb.urls.medblocks.deviceAuthorizationEndpoint, {
      method: 'POST',
      body: form({ client_id: 'nobody' }),
    });
    expect([unknown.status, (await json(unknown)).error]).toEqual([401, 'invalid_client']);
  });

  test('programmatic decisions check what they are given', async () => {
    expect(() => sb.approveDevice('BCDF-GHJK')).toThrow(/no device sign-in waits/);
    const pair = await codePair();
    expect(() => sb.approveDevice(pair.user_code, { username: 'mallory' })).toThrow(/no sandbox user/);
    await expect(startSandbox({ device: { intervalSeconds: 0.5 } })).rejects.toThrow(
      /device.intervalSeconds/,
    );
  });
});
