import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import * as oauth from 'oauth4webapi';
import { parseChallenges } from './challenges.js';

/** oauth4webapi's own parser, reached through a call that reports a response's challenges. */
async function oauth4webapiChallenges(value: string): Promise<unknown> {
  const response = new Response(null, { status: 401, headers: { 'www-authenticate': value } });
  try {
    await oauth.processUserInfoResponse(
      { issuer: 'https://as.example' },
      { client_id: 'c' },
      'sub',
      response,
    );
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) return error.cause;
  }
  return undefined;
}

/** Ours, on the value as a Headers object normalises it (as the loop reads it). */
function ours(value: string) {
  return parseChallenges(new Headers({ 'www-authenticate': value }).get('www-authenticate'));
}

describe('parseChallenges (RFC 9110 §11.6.1)', () => {
  test.each([
    ['Bearer', [{ scheme: 'bearer', parameters: {} }]],
    [
      'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
      [
        {
          scheme: 'bearer',
          parameters: {
            realm: 'example',
            error: 'invalid_token',
            error_description: 'The access token expired',
          },
        },
      ],
    ],
    [
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      [
        { scheme: 'newauth', parameters: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
        { scheme: 'basic', parameters: { realm: 'simple' } },
      ],
    ],
    [
      'DPoP algs="ES256 PS256", Bearer realm="fhir", error="insufficient_scope", scope="a, b"',
      [
        { scheme: 'dpop', parameters: { algs: 'ES256 PS256' } },
        { scheme: 'bearer', parameters: { realm: 'fhir', error: 'insufficient_scope', scope: 'a, b' } },
      ],
    ],
    [
      'Negotiate abc==, Bearer',
      [
        { scheme: 'negotiate', parameters: {}, token68: 'abc==' },
        { scheme: 'bearer', parameters: {} },
      ],
    ],
    [', ,Bearer error=invalid_token ,', [{ scheme: 'bearer', parameters: { error: 'invalid_token' } }]],
    ['BEARER ERROR = "invalid_token"', [{ scheme: 'bearer', parameters: { error: 'invalid_token' } }]],
  ])('%s', async (value, expected) => {
    expect(ours(value)).toEqual(expected);
    expect(await oauth4webapiChallenges(value)).toEqual(expected);
  });

  test.each(['', '=', 'Bearer realm="unterminated', 'Bearer a=b c', '"quoted" scheme'])(
    'not the grammar: %j gives no challenge',
    (value) => {
      expect(ours(value)).toBeUndefined();
    },
  );

  test('property: agrees with oauth4webapi on any header built from the grammar', async () => {
    const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,8}$/);
    const quoted = fc
      .string({ maxLength: 12 })
      .filter((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
      .map((s) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`);
    const param = fc
      .tuple(token, fc.constantFrom('=', ' = ', '= '), fc.oneof(token, quoted))
      .map(([n, eq, v]) => `${n}${eq}${v}`);
    const token68 = fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,8}$/), fc.constantFrom('', '=', '=='))
      .map(([a, b]) => a + b);
    // oauth4webapi only starts a new challenge after parameters when its scheme is also a
    // valid token68 (letters, digits, -._~+/), which every real scheme is; `&0` is a valid
    // scheme it does not accept there, so schemes here come from that common set.
    const scheme = fc.stringMatching(/^[A-Za-z0-9\-._~+]{1,8}$/);
    const challenge = fc.oneof(
      scheme,
      fc.tuple(scheme, token68).map(([s, t]) => `${s} ${t}`),
      fc
        .tuple(scheme, fc.array(param, { minLength: 1, maxLength: 4 }))
        .map(([s, ps]) => `${s} ${ps.join(', ')}`),
    );
    const header = fc.array(challenge, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(', '));
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        const theirs = await oauth4webapiChallenges(value);
        // Parameter names repeat in random input: both keep the last value.
        expect(ours(value)).toEqual(theirs);
      }),
      { numRuns: 500 },
    );
  });

  test('property: never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (value) => {
        const result = parseChallenges(value);
        expect(result === undefined || Array.isArray(result)).toBe(true);
      }),
    );
  });
});
