import { describe, expect, test } from 'vitest';
import {
  ConfigError,
  MissingScopeError,
  bearer,
  createToken,
  normaliseOrigins,
  originAllowlist,
  queryParamScope,
  type AuthRequest,
  type PolicyContext,
} from '@authrail/core';

function view(url: string, method = 'GET'): AuthRequest {
  return { method, url: new URL(url), headers: new Headers() };
}

function context(token = createToken({ accessToken: 'tok-123' })): PolicyContext & { calls: number } {
  const ctx = {
    calls: 0,
    signal: undefined,
    async token() {
      ctx.calls += 1;
      return token;
    },
  };
  return ctx;
}

describe('bearer', () => {
  test('sets Authorization with the normalised token type, replacing a caller value', async () => {
    const request = view('https://api.example.org/x');
    request.headers.set('Authorization', 'Basic old');
    await bearer()(request, context(createToken({ accessToken: 'tok-123', tokenType: 'bearer' })));
    expect(request.headers.get('authorization')).toBe('Bearer tok-123');
  });
});

describe('originAllowlist', () => {
  test('allowed origins pass, everything else is skipped', () => {
    const policy = originAllowlist(['https://api.example.org', 'http://127.0.0.1:8080/any/path']);
    expect(policy(view('https://api.example.org/fhir'), context())).toBeUndefined();
    expect(policy(view('http://127.0.0.1:8080/fhir'), context())).toBeUndefined();
    expect(policy(view('https://api.example.org:8443/fhir'), context())).toBe('skip');
    expect(policy(view('http://api.example.org/fhir'), context())).toBe('skip');
    expect(policy(view('https://evil.example.org/?u=https://api.example.org'), context())).toBe('skip');
    expect(policy(view('https://api.example.org.evil.com/'), context())).toBe('skip');
  });

  test.each([
    [[], /at least one origin/],
    [undefined, /at least one origin/],
    [['not a url'], /entry 0 is not an absolute URL/],
    [['http://api.example.org'], /must be https:/],
    [['ftp://files.example.org'], /must be https:/],
  ])('%j is refused', (origins, message) => {
    expect(() => normaliseOrigins(origins as never)).toThrow(ConfigError);
    expect(() => normaliseOrigins(origins as never)).toThrow(message);
  });

  test.each(['http://localhost:3000', 'http://127.0.0.1', 'http://127.1.2.3:9', 'http://[::1]:80'])(
    'loopback %s may be http:',
    (origin) => {
      expect(normaliseOrigins([origin]).size).toBe(1);
    },
  );
});

describe('queryParamScope', () => {
  test('adds the default value', async () => {
    const request = view('https://api.example.org/fhir/Patient?name=x');
    await queryParamScope({ param: 'researchstudy', value: '17-001', required: true })(request, context());
    expect(request.url.searchParams.get('researchstudy')).toBe('17-001');
    expect(request.url.searchParams.get('name')).toBe('x');
  });

  test('keeps an explicit per-request value', async () => {
    const request = view('https://api.example.org/fhir/Patient?researchstudy=20-123');
    await queryParamScope({ param: 'researchstudy', value: '17-001' })(request, context());
    expect(request.url.searchParams.getAll('researchstudy')).toEqual(['20-123']);
  });

  test('required and absent → MissingScopeError before any token is fetched', () => {
    const ctx = context();
    expect(() =>
      queryParamScope({ param: 'researchstudy', required: true })(
        view('https://api.example.org/fhir/Patient?researchstudy='),
        ctx,
      ),
    ).toThrow(MissingScopeError);
    expect(ctx.calls).toBe(0);
  });

  test('optional and absent → untouched', async () => {
    const request = view('https://api.example.org/x');
    await queryParamScope({ param: 'researchstudy' })(request, context());
    expect(request.url.search).toBe('');
  });

  test.each([
    [{ param: '' }, 'param'],
    [{}, 'param'],
    [{ param: 'researchstudy', value: '' }, 'value'],
  ])('%j is refused naming %s', (options, option) => {
    expect(() => queryParamScope(options as never)).toThrow(new RegExp(`^${option}:`));
  });
});
