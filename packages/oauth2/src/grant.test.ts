import fc from 'fast-check';
import { expect, test } from 'vitest';
import { tokenFrom } from './grant.js';
import { ErrorCodes, type TokenEndpointError } from '@authrail/core';
import { endpointError, retryAfterMs } from './errors.js';

test('property: any valid token response becomes a Token; unknown fields go to extra, secrets never do', () => {
  const standard = ['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token'];
  fc.assert(
    fc.property(
      fc.stringMatching(/^[\x21-\x7e]{1,200}$/),
      fc.constantFrom('bearer', 'Bearer', 'BEARER'),
      fc.option(fc.integer({ min: 0, max: 8 * 3600 }), { nil: undefined }),
      fc.option(fc.stringMatching(/^[\x21-\x7e]{1,80}$/), { nil: undefined }),
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !standard.includes(k) && k !== '__proto__'),
        fc.jsonValue(),
        { maxKeys: 4 },
      ),
      fc.option(fc.stringMatching(/^[\x21-\x7e]{4,80}$/), { nil: undefined }),
      (accessToken, tokenType, expiresIn, refreshToken, extra, previous) => {
        const response = {
          ...extra,
          access_token: accessToken,
          token_type: tokenType.toLowerCase(),
          ...(expiresIn === undefined ? {} : { expires_in: expiresIn }),
          ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
        };
        const token = tokenFrom(response as never, previous, undefined);
        expect(token.accessToken).toBe(accessToken);
        expect(token.refreshToken).toBe(refreshToken ?? previous);
        expect(Object.keys(token.extra).sort()).toEqual(Object.keys(extra).sort());
        for (const key of standard) expect(token.extra).not.toHaveProperty(key);
        // expires_in 0 is "no lifetime given"
        if (expiresIn) expect(token.expiresAt! - token.issuedAt).toBe(expiresIn * 1000);
        else expect(token.expiresAt).toBeUndefined();
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

test('property: an OAuth error body maps to error/errorDescription; any other JSON body is kept for presets; an echoed secret is scrubbed', () => {
  const secret = 'property-test-client-secret';
  // Plain words: core also scrubs credential-shaped text (`code=…`, `Bearer …`) by shape.
  const text = fc
    .stringMatching(/^[A-Za-z0-9 _.-]{1,40}$/)
    .filter((s) => !/\b(bearer|basic|dpop)\b/i.test(s) && !s.includes(secret.slice(0, 4)));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ error: text, error_description: text }, { requiredKeys: ['error'] }),
        fc.record(
          { errorCode: text, errorSummary: text, errorId: text, errorLink: text },
          { requiredKeys: ['errorCode'] },
        ),
      ),
      fc.integer({ min: 400, max: 599 }),
      fc.boolean(),
      (body: Record<string, string>, status, echo) => {
        const withEcho = echo ? { ...body, error_description: `bad secret ${secret}` } : body;
        const error = endpointError(
          new Error('server responded with an error in the response body'),
          { response: { status, headers: new Headers(), body: JSON.stringify(withEcho) } },
          'https://auth.example.org/token',
          [secret],
        ) as TokenEndpointError;
        expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_ERROR, status });
        expect(error.error).toBe(body.error); // Okta's own shape is the okta preset's to read
        if (body.error !== undefined && !echo) expect(error.errorDescription).toBe(body.error_description);
        expect(error.body).toContain(body.error ?? body.errorCode);
        expect(error.retryable).toBe(status === 429 || status >= 500);
        expect(
          [error.message, JSON.stringify(error), String(error.errorDescription), error.body].join(),
        ).not.toContain(secret);
      },
    ),
  );
});

test('property: a non-JSON body is TOKEN_RESPONSE_INVALID at any status', () => {
  fc.assert(
    fc.property(
      fc.string().filter((s) => {
        try {
          const v: unknown = JSON.parse(s);
          return typeof v !== 'object' || v === null || Array.isArray(v);
        } catch {
          return true;
        }
      }),
      fc.integer({ min: 200, max: 599 }),
      (body, status) => {
        const error = endpointError(
          new Error('x'),
          { response: { status, headers: new Headers(), body } },
          'https://a.example/token',
          [],
        );
        expect(error.code).toBe(ErrorCodes.TOKEN_RESPONSE_INVALID);
      },
    ),
  );
});

test('a DPoP token without a proof sent, and a Bearer token for a proof, are typed errors (no downgrade, no surprise binding)', () => {
  const response = { access_token: 'abc', token_type: 'dpop', expires_in: 60 } as never;
  expect(() => tokenFrom(response, undefined, undefined)).toThrow(
    expect.objectContaining({ code: ErrorCodes.TOKEN_RESPONSE_INVALID }) as Error,
  );
  const binding = {} as Parameters<typeof tokenFrom>[2];
  expect(tokenFrom(response, undefined, binding).tokenType).toBe('DPoP');
  expect(() =>
    tokenFrom({ ...(response as object), token_type: 'bearer' } as never, undefined, binding),
  ).toThrow(/DPoP-bound token was asked for/);
});
