import { describe, expect, test } from 'vitest';
import { ConfigError } from '@authrail/core';
import { normaliseOrigins } from './origins.js';

describe('normaliseOrigins', () => {
  test('keeps exact origins: scheme, host and port', () => {
    const allowed = normaliseOrigins(['https://API.example.org', 'http://127.0.0.1:8080/']);
    expect([...allowed]).toEqual(['https://api.example.org', 'http://127.0.0.1:8080']);
    for (const other of [
      'https://api.example.org:8443',
      'http://api.example.org',
      'https://evil.example.org',
      'https://api.example.org.evil.com',
      'https://sub.api.example.org',
    ])
      expect(allowed.has(new URL(other).origin)).toBe(false);
  });
  test.each([
    [[], /at least one origin/],
    [undefined, /at least one origin/],
    [['not a url'], /entry 0 is not an absolute URL/],
    [['http://api.example.org'], /must be https:/],
    [['ftp://files.example.org'], /must be https:/],
    // regression (issue 9 #11): a path was dropped silently, granting the whole origin
    [
      ['https://api.example.org/fhir'],
      /entry 0 \(https:\/\/api\.example\.org\/fhir\) must be an origin only/,
    ],
    [['https://api.example.org?x=1'], /must be an origin only/],
    [['https://api.example.org#top'], /must be an origin only/],
    [['https://user:pw@api.example.org'], /must be an origin only/],
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
