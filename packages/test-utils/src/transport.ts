// Drives a strategy without an adapter, for provider tests (adapters are combined with
// providers only in the conformance table).
import type { AuthStrategy } from '@authrail/core';
import { fetchTransport } from './origins.js';

/** Sends a request through `strategy` and the fetch transport; resolves with fetch's `Response`. */
export async function sendThrough(
  strategy: AuthStrategy,
  url: string,
  init: { method?: string; headers?: HeadersInit; body?: string | Uint8Array; signal?: AbortSignal } = {},
): Promise<Response> {
  const hop = await strategy.send(
    {
      method: init.method ?? 'GET',
      url: new URL(url),
      headers: new Headers(init.headers),
      body: init.body ?? null,
    },
    fetchTransport,
    init.signal ? { signal: init.signal } : {},
  );
  return hop.response;
}
