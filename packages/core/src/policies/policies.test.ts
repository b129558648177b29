import { describe, expect, test } from 'vitest';
import {
  MissingScopeError,
  bearer,
  createToken,
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
    dpop: undefined,
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
