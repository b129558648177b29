// The JWT bearer grant (RFC 7523 §2.1) against the sandbox's Okta server, which trusts the
// demo workload issuer: a file the "platform" rotates is read for every token request, an
// expired assertion in it is never sent, and the sandbox's refusals come back typed.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorCodes, createAuthStrategy, isTokenEndpointError } from '@authrail/core';
import { assertionFromFile, jwtBearer } from '@authrail/oauth2';
import { demoClients } from '@authrail/sandbox';
import { useSandbox } from '@authrail/test-utils';

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const issuer = demoClients.workloadIssuer;
const sb = useSandbox();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'authrail-jwt-bearer-sandbox-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const b64 = (value: string | ArrayBuffer) => Buffer.from(value as ArrayBuffer).toString('base64url');
const seconds = (fromNow: number) => Math.floor(Date.now() / 1000) + fromNow;

/** A projected service-account token of the demo issuer (ES256), as kubelet would write it. */
async function serviceAccountToken(claims: Record<string, unknown> = {}): Promise<string> {
  const key = await crypto.subtle.importKey(
    'jwk',
    { ...issuer.privateJwk },
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const input = `${b64(JSON.stringify({ alg: 'ES256', kid: issuer.kid, typ: 'JWT' }))}.${b64(
    JSON.stringify({
      iss: issuer.issuer,
      sub: issuer.subject,
      aud: sb.urls.okta.issuer,
      iat: seconds(0),
      exp: seconds(600),
      jti: crypto.randomUUID(),
      ...claims,
    }),
  )}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(signature)}`;
}

/** Writes the file as kubelet does: a new file renamed over the old, with a trailing newline. */
async function place(path: string, assertion: string): Promise<void> {
  await writeFile(`${path}.tmp`, `${assertion}\n`);
  await rename(`${path}.tmp`, path);
}

const workload = (path: string) =>
  jwtBearer({
    server: { issuer: sb.urls.okta.issuer, discovery: true },
    clientId: demoClients.oktaWorkload.clientId,
    assertion: assertionFromFile(path),
    scope: 'ctrp.read',
  });

const sentAssertions = () =>
  sb.tokenRequests({ service: 'okta' }).map((r) => new URLSearchParams(r.body.toString()).get('assertion'));

describe('jwtBearer + assertionFromFile against the sandbox', () => {
  test('the file’s assertion is traded for a token that acts for its subject', async () => {
    const path = join(dir, 'happy');
    const assertion = await serviceAccountToken();
    await place(path, assertion);
    const token = await workload(path).fetchToken({});
    expect(token.scope).toBe('ctrp.read');
    expect(sb.tokenRequests({ service: 'okta' })).toMatchObject([
      {
        grantType: GRANT,
        clientAuth: 'none',
        clientId: demoClients.oktaWorkload.clientId,
        subject: issuer.subject,
        status: 200,
      },
    ]);
    expect(sentAssertions()).toEqual([assertion]);
    const echo = await fetch(sb.urls.echo, { headers: { Authorization: `Bearer ${token.accessToken}` } });
    expect(echo.status).toBe(200);
    expect(sb.resourceRequests({ route: 'echo' })[0]?.subject).toBe(issuer.subject);
  });

  test('a rotated file: the next token request sends the new assertion', async () => {
    const path = join(dir, 'rotated');
    const first = await serviceAccountToken();
    await place(path, first);
    const strategy = createAuthStrategy({ source: workload(path), origins: [sb.url] });
    await strategy.tokens.getToken();
    await strategy.tokens.getToken(); // the same token: no request, the file is not needed
    const second = await serviceAccountToken();
    await place(path, second);
    await strategy.tokens.clear();
    await strategy.tokens.getToken();
    expect(sentAssertions()).toEqual([first, second]);
    expect(sb.tokenRequests({ service: 'okta' }).map((r) => r.status)).toEqual([200, 200]);
  });

  test('an expired assertion in the file: a typed error naming the file, and no request', async () => {
    const path = join(dir, 'expired');
    const old = await serviceAccountToken({ iat: seconds(-700), exp: seconds(-100) });
    await place(path, old);
    const error = await workload(path)
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/expired at/);
    expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain(old.split('.')[2]);
    expect(sb.tokenRequests()).toHaveLength(0);
  });

  test('the sandbox refusing the assertion (a subject it is not trusted for): invalid_grant, typed', async () => {
    const path = join(dir, 'untrusted');
    await place(path, await serviceAccountToken({ sub: 'system:serviceaccount:other:intruder' }));
    const error = await workload(path)
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_grant');
    expect(isTokenEndpointError(error) && error.errorDescription).toContain('not trusted for the subject');
    expect(sb.tokenRequests({ service: 'okta' }).map((r) => r.status)).toEqual([400]);
  });

  test('a server that quotes the request in its error: the assertion reaches no part of the error', async () => {
    const path = join(dir, 'echoed');
    const assertion = await serviceAccountToken();
    await place(path, assertion);
    sb.inject('okta-token', { type: 'echo-credentials' }, { times: 1 });
    const error = await workload(path)
      .fetchToken({})
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_client');
    // The sandbox quoted the form body: the description kept its shape, the assertion became [redacted].
    expect(isTokenEndpointError(error) && error.errorDescription).toContain(
      'body: scope=ctrp.read&assertion=[redacted]&grant_type=',
    );
    expect(
      [String(error), JSON.stringify(error), inspect(error, { showHidden: true, depth: 10 })].join('\n'),
    ).not.toContain(assertion.split('.')[2]);
  });
});
