import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import type { AuthrailError } from '@authrail/core';
import {
  AuthorizationResponseError,
  ConfigError,
  ErrorCodes,
  MissingScopeError,
  RedirectError,
  TokenEndpointError,
  isAuthorizationResponseError,
  isAuthrailError,
  isConfigError,
  isMissingScopeError,
  isNotAuthenticatedError,
  isRedirectError,
  isTokenEndpointError,
  NotAuthenticatedError,
  createToken,
  toTokenEndpointError,
} from '@authrail/core';
import { scrubError, scrubSecrets } from './errors.js';

const SECRET = 'client-secret-9f8e7d';

function allRenderings(error: Error): string {
  return [
    error.message,
    error.stack ?? '',
    String(error),
    JSON.stringify(error),
    JSON.stringify({ ...error }),
    inspect(error, { depth: 10, showHidden: true }),
    inspect((error as { cause?: unknown }).cause, { depth: 10, showHidden: true }),
  ].join('\n');
}

describe('error types', () => {
  test('every error has a literal name, a stable code and a guard', () => {
    const cases: [AuthrailError, string, (e: unknown) => boolean][] = [
      [new ConfigError('bad', { option: 'baseUrl' }), 'ConfigError', isConfigError],
      [
        new TokenEndpointError(ErrorCodes.TOKEN_ENDPOINT_ERROR, 'x', {
          status: 401,
          error: 'invalid_client',
        }),
        'TokenEndpointError',
        isTokenEndpointError,
      ],
      [
        new MissingScopeError('researchstudy', new URL('https://api.example.org/fhir/Patient?x=1')),
        'MissingScopeError',
        isMissingScopeError,
      ],
      [
        new AuthorizationResponseError('denied', { error: 'access_denied' }),
        'AuthorizationResponseError',
        isAuthorizationResponseError,
      ],
      [
        new RedirectError('too many', { status: 302, location: 'https://x.example/y' }),
        'RedirectError',
        isRedirectError,
      ],
      [new NotAuthenticatedError('sign in first'), 'NotAuthenticatedError', isNotAuthenticatedError],
    ];
    for (const [error, name, guard] of cases) {
      expect(error.name).toBe(name);
      expect(error).toBeInstanceOf(Error);
      expect(isAuthrailError(error)).toBe(true);
      expect(guard(error)).toBe(true);
      expect(Object.values(ErrorCodes)).toContain(error.code);
      expect(error.code.startsWith('AUTHRAIL_')).toBe(true);
    }
    expect(isAuthrailError(new Error('x'))).toBe(false);
    expect(isTokenEndpointError(new ConfigError('x', { option: 'o' }))).toBe(false);
    expect(isAuthrailError(null)).toBe(false);
  });

  test('the guard works across realms', () => {
    const foreign = runInNewContext('const e = new Error("x"); e[Symbol.for("authrail.error")] = true; e');
    expect(isAuthrailError(foreign)).toBe(true);
  });

  test('ConfigError names the option first', () => {
    expect(new ConfigError('must be https:', { option: 'issuer' }).message).toBe('issuer: must be https:');
  });

  test('MissingScopeError says which parameter and where, without the query', () => {
    const e = new MissingScopeError('researchstudy', new URL('https://api.example.org/fhir/Patient?name=x'));
    expect(e.param).toBe('researchstudy');
    expect(e.message).toContain('https://api.example.org/fhir/Patient');
    expect(e.message).not.toContain('name=x');
  });

  test('TokenEndpointError keeps the raw body for presets: scrubbed of secrets and cut to 4 KiB', () => {
    const body =
      JSON.stringify({ errorCode: 'E0000011', errorSummary: 'Invalid client s3cr3t-value' }) +
      'x'.repeat(10_000);
    const e = new TokenEndpointError(ErrorCodes.TOKEN_ENDPOINT_ERROR, 'the token endpoint said no', {
      status: 401,
      body,
      secrets: ['s3cr3t-value'],
    });
    expect(e.status).toBe(401);
    expect(e.error).toBeUndefined(); // core knows no vendor shape: the preset maps it
    expect(e.body).toContain('"errorCode":"E0000011"');
    expect(e.body).not.toContain('s3cr3t-value');
    expect(e.body!.length).toBeLessThanOrEqual(4096);
  });

  test.each([
    [ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE, undefined, true],
    [ErrorCodes.TOKEN_ENDPOINT_TIMEOUT, undefined, true],
    [ErrorCodes.TOKEN_ENDPOINT_ERROR, 429, true],
    [ErrorCodes.TOKEN_ENDPOINT_ERROR, 500, true],
    [ErrorCodes.TOKEN_RESPONSE_INVALID, 502, true],
    [ErrorCodes.TOKEN_ENDPOINT_ERROR, 400, false],
    [ErrorCodes.TOKEN_ENDPOINT_ERROR, 401, false],
    [ErrorCodes.TOKEN_RESPONSE_INVALID, 200, false],
  ] as const)('%s with status %s is retryable: %s', (code, status, retryable) => {
    expect(new TokenEndpointError(code, 'x', status === undefined ? {} : { status }).retryable).toBe(
      retryable,
    );
  });
});

describe('redaction', () => {
  test('a secret given to an error is gone from message, cause, stack, JSON and inspect', () => {
    const cause = new Error(`POST failed: client_id=abc&client_secret=${SECRET}`, {
      cause: new Error(`inner ${SECRET}`),
    });
    const errors = [
      new TokenEndpointError(ErrorCodes.TOKEN_ENDPOINT_ERROR, `rejected ${SECRET}`, {
        cause,
        secrets: [SECRET],
        error: `bad ${SECRET}`,
        errorDescription: SECRET,
      }),
      new ConfigError(`value ${SECRET} is wrong`, { option: 'clientSecret', secrets: [SECRET], cause }),
      new AuthorizationResponseError(`state ${SECRET}`, {
        error: 'state_mismatch',
        secrets: [SECRET],
        cause,
      }),
    ];
    for (const error of errors) {
      const text = allRenderings(error);
      expect(text).not.toContain(SECRET);
      expect(text).toContain('[redacted]');
    }
  });

  test('URL-encoded secrets are scrubbed too', () => {
    const secret = 'p@ss word/+=';
    expect(scrubSecrets(`body: client_secret=${encodeURIComponent(secret)}`, [secret])).not.toContain(
      encodeURIComponent(secret),
    );
    expect(scrubSecrets(`x ${secret} y`, [secret])).toBe('x [redacted] y');
  });

  test('credentials are recognised by shape even when nobody said they were secret', () => {
    const text = [
      'client_id=a&client_secret=hunter22&grant_type=client_credentials',
      '{"access_token":"eyJabc.def","token_type":"bearer"}',
      'Authorization: Bearer eyJhbGci.payload.sig',
      'Authorization: Basic Y2xpZW50OnNlY3JldA==',
      'refresh_token=rt-123&code_verifier=v3rifier-value',
    ].join('\n');
    const out = scrubSecrets(text, []);
    for (const leaked of [
      'hunter22',
      'eyJabc.def',
      'eyJhbGci.payload.sig',
      'Y2xpZW50OnNlY3JldA==',
      'rt-123',
      'v3rifier-value',
    ]) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain('client_id=a');
    expect(out).toContain('grant_type=client_credentials');
  });

  test('short strings are not treated as secrets', () => {
    expect(scrubSecrets('abc', ['ab'])).toBe('abc');
    expect(scrubSecrets('abc', [undefined, ''])).toBe('abc');
  });

  test('scrubError drops objects that may hold credentials and keeps error codes', () => {
    expect(scrubError({ headers: { authorization: 'Bearer x' } }, [])).toBe(
      '[object omitted: may contain credentials]',
    );
    const withCode = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(scrubError(withCode, [])).toMatchObject({ message: 'reset', code: 'ECONNRESET' });
    expect(scrubError(`text ${SECRET}`, [SECRET])).toBe('text [redacted]');
    expect(scrubError(42, [])).toBe(42);
  });
});

describe('the one error boundary (issue 22)', () => {
  test("authrail's own message is never rewritten by the shape scrubber", () => {
    const error = (() => {
      try {
        createToken({ accessToken: 'abc-1234', tokenType: 'mac' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(error.message).toContain('only Bearer and DPoP tokens can be sent');
    expect(error.message).not.toContain('[redacted] DPoP');
  });

  test('a token a server quotes as JSON inside its error_description is redacted everywhere the text is kept', () => {
    const leaked = 'eyJleaked.access.token-77';
    const body = JSON.stringify({
      error: 'invalid_grant',
      error_description: JSON.stringify({ access_token: leaked, note: 'echoed by a careless server' }),
    });
    const error = toTokenEndpointError(new Error('bad'), {
      endpoint: 'https://auth.example.org/token',
      response: { status: 400, body },
    }) as TokenEndpointError;
    expect(error).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_ERROR,
      error: 'invalid_grant',
      status: 400,
    });
    expect(error.message).toContain('answered 400 invalid_grant');
    const text = [allRenderings(error), String(error.body), String(error.errorDescription)].join('\n');
    expect(text).not.toContain(leaked);
    expect(error.body).toContain('[redacted]');
  });

  test("an unreachable endpoint says why in the message: the root cause's code", () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    const error = toTokenEndpointError(refused, { endpoint: 'https://auth.example.org/token' });
    expect(error).toMatchObject({ code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE });
    expect(error.message).toBe(
      'could not reach token endpoint https://auth.example.org/token (ECONNREFUSED)',
    );
  });

  test('a function that fails to make the credential, a deadline, a non-JSON error page: each its own code', () => {
    const endpoint = 'https://auth.example.org/token';
    expect(
      toTokenEndpointError(new TypeError('bad key'), { endpoint, credential: 'the signer' }).message,
    ).toBe(
      `could not make the client credential for token endpoint ${endpoint}: the signer failed (bad key)`,
    );
    expect(toTokenEndpointError(new Error('x'), { endpoint, timedOut: true })).toMatchObject({
      code: ErrorCodes.TOKEN_ENDPOINT_TIMEOUT,
    });
    expect(
      toTokenEndpointError(undefined, {
        endpoint,
        response: { status: 502, body: '<html>Bad gateway</html>' },
      }),
    ).toMatchObject({ code: ErrorCodes.TOKEN_RESPONSE_INVALID, status: 502 });
  });
});
