import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { HopHeaders } from './hop-headers.js';

const TOKEN = 'Bearer eyJhbGciOiJSUzI1NiJ9.hop-headers-test-token';

describe('HopHeaders: what Headers does, on a plain map', () => {
  test('names are case-insensitive and shown in lower case; append joins with ", "', () => {
    const headers = new HopHeaders(new Headers({ Accept: 'application/json' }));
    headers.set('X-Trace', 'a');
    headers.append('x-trace', 'b');
    expect(headers.get('ACCEPT')).toBe('application/json');
    expect(headers.has('x-TRACE')).toBe(true);
    expect(headers.get('x-trace')).toBe('a, b');
    expect([...headers]).toEqual([
      ['accept', 'application/json'],
      ['x-trace', 'a, b'],
    ]);
    headers.delete('X-Trace');
    expect(headers.has('x-trace')).toBe(false);
    expect(headers.get('x-trace')).toBeNull();
    expect([...headers.keys()]).toEqual(['accept']);
    expect([...headers.values()]).toEqual(['application/json']);
    expect(headers.getSetCookie()).toEqual([]);
  });

  test('surrounding whitespace is stripped as Headers strips it', () => {
    const headers = new HopHeaders(new Headers());
    headers.set('x-padded', ' \t value \r\n');
    expect(headers.get('x-padded')).toBe(new Headers({ 'x-padded': ' \t value \r\n' }).get('x-padded'));
  });

  test.each([
    ['a CR LF (header injection)', 'ok\r\nX-Injected: yes'],
    ['a NUL', 'ok\0'],
    ['a character no header can carry', 'ok\u2028'],
  ])('a value with %s is refused, without the value in the message', (_what, value) => {
    const headers = new HopHeaders(new Headers());
    expect(() => new Headers().set('x-value', value)).toThrow(TypeError);
    let thrown: unknown;
    try {
      headers.set('x-value', value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(String(thrown)).not.toContain('ok');
    expect(() => headers.append('x-value', value)).toThrow(TypeError);
    expect(headers.has('x-value')).toBe(false);
  });

  test('a name that is not an HTTP token is refused', () => {
    const headers = new HopHeaders(new Headers());
    for (const name of ['', 'bad name', 'bad:name', 'bad\r\nname']) {
      expect(() => headers.set(name, 'v')).toThrow(TypeError);
    }
  });

  test('a copy is its own: changing it changes neither the Headers nor the HopHeaders it came from', () => {
    const caller = new Headers({ accept: 'text/plain' });
    const first = new HopHeaders(caller);
    first.set('authorization', TOKEN);
    const second = new HopHeaders(first);
    second.delete('authorization');
    second.set('accept', 'application/xml');
    expect([...caller]).toEqual([['accept', 'text/plain']]);
    expect(first.get('authorization')).toBe(TOKEN);
    expect(first.get('accept')).toBe('text/plain');
    expect([...second]).toEqual([['accept', 'application/xml']]);
  });

  test('a Headers-like object from a custom adapter is checked as it is copied', () => {
    const forged = {
      forEach(callback: (value: string, name: string) => void) {
        callback('ok\r\nX-Injected: yes', 'x-forged');
      },
    } as unknown as Headers;
    expect(() => new HopHeaders(forged)).toThrow(TypeError);
  });

  test("fetch's Headers and Request take it as they take Headers", () => {
    const headers = new HopHeaders(new Headers({ accept: 'application/json' }));
    headers.set('authorization', TOKEN);
    expect([...new Headers(headers)]).toEqual([
      ['accept', 'application/json'],
      ['authorization', TOKEN],
    ]);
    const sent = new Request('https://api.example.org/', { headers });
    expect(sent.headers.get('authorization')).toBe(TOKEN);
    expect(Object.prototype.toString.call(headers)).toBe('[object Headers]');
  });

  test('no value shows in JSON or inspect output', () => {
    const headers = new HopHeaders(new Headers());
    headers.set('authorization', TOKEN);
    expect(JSON.stringify(headers)).not.toContain('hop-headers-test-token');
    expect(inspect(headers, { depth: 5, showHidden: true })).not.toContain('hop-headers-test-token');
  });
});
