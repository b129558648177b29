import fc from 'fast-check';
import { expect, test } from 'vitest';
import { tokenFrom } from './grant.js';
import { retryAfterMs } from './errors.js';

test('property: any valid token response becomes a Token; unknown fields go to extra, secrets never do', () => {
  const standard = ['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token'];
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !/\s/.test(s)),
      fc.constantFrom('bearer', 'Bearer', 'BEARER', 'dpop'),
      fc.option(fc.integer({ min: 0, max: 8 * 3600 }), { nil: undefined }),
      fc.option(
        fc.string({ minLength: 1 }).filter((s) => !/\s/.test(s)),
        { nil: undefined },
      ),
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !standard.includes(k) && k !== '__proto__'),
        fc.jsonValue(),
        { maxKeys: 4 },
      ),
      fc.option(fc.string({ minLength: 4 }), { nil: undefined }),
      (accessToken, tokenType, expiresIn, refreshToken, extra, previous) => {
        const response = {
          ...extra,
          access_token: accessToken,
          token_type: tokenType.toLowerCase(),
          ...(expiresIn === undefined ? {} : { expires_in: expiresIn }),
          ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
        };
        const token = tokenFrom(response as never, previous);
        expect(token.accessToken).toBe(accessToken);
        expect(token.refreshToken).toBe(refreshToken ?? previous);
        expect(Object.keys(token.extra).sort()).toEqual(Object.keys(extra).sort());
        for (const key of standard) expect(token.extra).not.toHaveProperty(key);
        if (expiresIn !== undefined) expect(token.expiresAt! - token.issuedAt).toBe(expiresIn * 1000);
        expect((JSON.parse(JSON.stringify(token)) as { accessToken: string }).accessToken).toBe('[redacted]');
      },
    ),
  );
});

test('Retry-After: seconds or an HTTP date', () => {
  expect(retryAfterMs('7')).toBe(7_000);
  expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
  expect(retryAfterMs('soon')).toBeUndefined();
  expect(retryAfterMs(null)).toBeUndefined();
});
