import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { isStreamBody, runtimeFollowsRedirects, withoutAddedQuery } from '@authrail/core';

describe('isStreamBody', () => {
  test('a body that can be read once is a stream; one that can be sent again is not', () => {
    async function* chunks() {
      yield new Uint8Array([1]);
    }
    expect(isStreamBody(new ReadableStream())).toBe(true);
    expect(isStreamBody(Readable.from(['a']))).toBe(true);
    expect(isStreamBody(chunks())).toBe(true);
    expect(isStreamBody({ pipe() {} })).toBe(true); // form-data and other old-style streams
    for (const body of [
      null,
      undefined,
      'text',
      new Uint8Array(2),
      new Blob(['x']),
      new FormData(),
      new URLSearchParams('a=1'),
    ])
      expect(isStreamBody(body)).toBe(false);
  });
});

describe('runtimeFollowsRedirects', () => {
  test('Node shows redirects; a page (a document) follows them out of sight', () => {
    expect(runtimeFollowsRedirects()).toBe(false);
    const scope = globalThis as { document?: unknown };
    scope.document = {};
    try {
      expect(runtimeFollowsRedirects()).toBe(true);
    } finally {
      delete scope.document;
    }
  });
});

describe('withoutAddedQuery', () => {
  const asked = '?name=smith';

  test('a query value the caller did not ask for (an API key a policy set) is redacted', () => {
    const sent = new URL('https://api.example.org/fhir/Patient?name=smith&api_key=s3cr3t');
    expect(withoutAddedQuery(sent, asked)).toBe(
      'https://api.example.org/fhir/Patient?name=smith&api_key=[redacted]',
    );
  });

  test('a value a policy changed is redacted too; what the caller asked for is kept', () => {
    const sent = new URL('https://api.example.org/fhir/Patient?name=s3cr3t');
    expect(withoutAddedQuery(sent, asked)).toBe('https://api.example.org/fhir/Patient?name=[redacted]');
  });

  test('the URL as asked (or without a query) is shown as it is, without a fragment', () => {
    expect(withoutAddedQuery(new URL(`https://api.example.org/fhir/Patient${asked}#top`), asked)).toBe(
      `https://api.example.org/fhir/Patient${asked}`,
    );
    expect(withoutAddedQuery(new URL('https://api.example.org/x'), asked)).toBe('https://api.example.org/x');
  });
});
