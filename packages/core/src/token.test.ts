import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ErrorCodes, TokenEndpointError, createToken, toTokenRecord, tokenInfo } from '@authrail/core';

const ACCESS = 'eyJhbGciOiJSUzI1NiJ9.access-secret-value.sig';
const REFRESH = 'refresh-secret-value-123';

describe('Token redaction', () => {
  const token = createToken({
    accessToken: ACCESS,
    refreshToken: REFRESH,
    expiresIn: 3600,
    scope: 'full',
    extra: { consented_on: '2024-05-01' },
  });

  test.each([
    ['String()', () => String(token)],
    ['template literal', () => `${token}`],
    ['JSON.stringify', () => JSON.stringify(token)],
    ['JSON.stringify nested', () => JSON.stringify({ token })],
    ['util.inspect', () => inspect(token)],
    ['util.inspect nested, deep', () => inspect({ a: { token } }, { depth: 10, showHidden: true })],
    ['spread', () => JSON.stringify({ ...token })],
    [
      'Object.keys values',
      () => JSON.stringify(Object.keys(token).map((k) => (token as unknown as Record<string, unknown>)[k])),
    ],
  ])('%s shows no secret', (_name, render) => {
    const text = render();
    expect(text).not.toContain(ACCESS);
    expect(text).not.toContain(REFRESH);
    expect(text).not.toContain('access-secret-value');
  });

  test('the redacted form still says what the token is', () => {
    expect(String(token)).toMatch(/^Token\(Bearer \[redacted\], expires \d{4}-/);
    expect(JSON.parse(JSON.stringify(token))).toMatchObject({
      tokenType: 'Bearer',
      accessToken: '[redacted]',
      refreshToken: '[redacted]',
      scope: 'full',
      extra: { consented_on: '2024-05-01' },
    });
  });

  test('the secrets are readable on purpose, and the token is immutable', () => {
    expect(token.accessToken).toBe(ACCESS);
    expect(token.refreshToken).toBe(REFRESH);
    expect(Object.isFrozen(token)).toBe(true);
    expect(Object.isFrozen(token.extra)).toBe(true);
  });

  test('tokenInfo carries no secret', () => {
    expect(JSON.stringify(tokenInfo(token))).not.toContain('secret');
  });
});

describe('createToken', () => {
  test.each(['bearer', 'BEARER', 'Bearer', undefined, ''])(
    'token type %j is normalised to Bearer',
    (tokenType) => {
      expect(
        createToken({ accessToken: 'a', ...(tokenType === undefined ? {} : { tokenType }) }).tokenType,
      ).toBe('Bearer');
    },
  );

  test.each(['DPoP', 'dpop', 'DPOP'])('token type %j is normalised to DPoP (RFC 9449)', (tokenType) => {
    expect(createToken({ accessToken: 'a', tokenType }).tokenType).toBe('DPoP');
  });

  // Issue 9.4: an unknown token type was sent as `Authorization: dpop …` with no proof. A
  // DPoP token is now accepted here and refused at send without its key (strategy tests).
  test.each(['mac', 'N_A', 'dpop-bound', 42])(
    'regression: token type %j is refused (RFC 6749 §7.1)',
    (tokenType) => {
      expect(() => createToken({ accessToken: 'a', tokenType: tokenType as string })).toThrow(
        expect.objectContaining({
          code: ErrorCodes.TOKEN_RESPONSE_INVALID,
          message: expect.stringMatching(/token_type/),
        }),
      );
    },
  );

  // Issue 9.4: NUL, invalid UTF-8 or non-ASCII were cached, and every request then threw an
  // untyped TypeError (with NUL, holding the whole token).
  test.each([
    ['a NUL', 'abc\u0000secret-token'],
    ['a control character', 'abc\u0007def'],
    ['non-ASCII', 'tökén-value'],
    ['a lone surrogate (invalid UTF-8)', 'abc\ud800def'],
    ['DEL', 'abc\u007fdef'],
  ])('regression: an access token with %s is refused, never quoted', (_name, accessToken) => {
    const error = (() => {
      try {
        createToken({ accessToken });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID });
    expect(error?.message).not.toContain(accessToken);
  });

  // Issue 9.4: expires_in 1e14 made the Token throw RangeError when printed.
  test('regression: a lifetime too large to be a time is refused', () => {
    expect(() => createToken({ accessToken: 'a', expiresIn: 1e14 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOKEN_RESPONSE_INVALID }),
    );
    expect(String(createToken({ accessToken: 'a', expiresIn: 10 * 365 * 86_400 }))).toMatch(/expires/);
  });

  // Issue 9.3: expires_in 0 meant a new token on every API call.
  test('regression: expires_in 0 is "no lifetime given" (Go oauth2): used until rejected', () => {
    expect(createToken({ accessToken: 'a', expiresIn: 0 }).expiresAt).toBeUndefined();
  });

  test('expiresAt wins over expiresIn; no expiry is allowed', () => {
    expect(createToken({ accessToken: 'a', expiresIn: 10, expiresAt: 5 }).expiresAt).toBe(5);
    expect(createToken({ accessToken: 'a' }).expiresAt).toBeUndefined();
  });

  // Tokens come from servers: bad ones are a token response problem, never a ConfigError
  // (which is for options, at construction).
  test.each([
    [{ accessToken: '' }, /access_token must be a non-empty string/],
    [{ accessToken: 42 }, /access_token must be a non-empty string/],
    [{ accessToken: 'has space' }, /access_token must be visible ASCII/],
    [{ accessToken: 'a', expiresIn: -1 }, /expires_in must be/],
    [{ accessToken: 'a', expiresIn: Number.NaN }, /expires_in must be/],
    [{ accessToken: 'a', expiresAt: Infinity }, /expiry must be/],
  ])('%j is TOKEN_RESPONSE_INVALID: %s', (init, message) => {
    const make = () => createToken(init as never);
    expect(make).toThrow(TokenEndpointError);
    expect(make).toThrow(message);
    expect(() => make()).toThrow(expect.objectContaining({ code: ErrorCodes.TOKEN_RESPONSE_INVALID }));
  });

  test('a refused access token with whitespace is not echoed', () => {
    const error = (() => {
      try {
        createToken({ accessToken: 'secret token' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain('secret token');
  });

  test('property: expiresAt = issuedAt + expires_in seconds, for any valid response', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[\x21-\x7e]{1,60}$/),
        fc.integer({ min: 1, max: 10 * 365 * 86_400 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom('bearer', 'Bearer', 'BEARER'),
        (accessToken, expiresIn, issuedAt, tokenType) => {
          const token = createToken({ accessToken, expiresIn, issuedAt, tokenType });
          expect(token.expiresAt).toBe(issuedAt + expiresIn * 1000);
          expect(token.issuedAt).toBe(issuedAt);
          expect(token.tokenType === 'Bearer').toBe(tokenType.toLowerCase() === 'bearer');
          expect(String(token)).not.toContain(`Bearer ${accessToken} `);
          const again = createToken(toTokenRecord(token));
          expect(again.accessToken).toBe(accessToken);
          expect(again.expiresAt).toBe(token.expiresAt);
        },
      ),
    );
  });
});
