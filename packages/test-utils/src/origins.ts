// Bare HTTP servers for tests of core's request loop and of each adapter: two loopback
// servers (two origins) whose routes each test scripts, and a one-hop transport over the
// global fetch. Core has no client of its own; the conformance table runs the same loop
// over fetch, ky and axios against the sandbox.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AuthRequest, AuthResponse, Transport } from '@authrail/core';

export interface Seen {
  /** Which server: `api`, `other`, or `secure` (the TLS one; see `host`). */
  origin: 'api' | 'other' | 'secure';
  /** The Host header: tells the TLS server's names apart. */
  host: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: string;
}

export type Route = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

export interface Origins {
  /** The allowed origin (http://127.0.0.1:port). */
  api: string;
  /** Another origin (http://localhost:port). */
  other: string;
  /**
   * With `tls: true`, the TLS server at this name: `secure('api.authrail.test')` is
   * `https://api.authrail.test:port`. Every `*.authrail.test` name reaches it through
   * {@link testLookup}, and its certificate ({@link TEST_CA}) covers them.
   */
  secure(host: string): string;
  /** Every request either server received, in order. */
  seen: Seen[];
  /** Routes by path; unmatched paths answer 200 with the request echoed. */
  routes: Map<string, Route>;
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

/** The test CA (a self-signed certificate) every test TLS server presents. Trust it explicitly. */
export const TEST_CA: string = fixture('cert.pem');

/** Resolves `localhost`, `authrail.test` and `*.authrail.test` to 127.0.0.1: a DNS for the tests' own hosts. */
export const testLookup = ((hostname: string, options: unknown, callback: unknown) => {
  const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
  const all = typeof options === 'object' && (options as { all?: boolean } | null)?.all === true;
  if (hostname === 'localhost' || hostname === 'authrail.test' || hostname.endsWith('.authrail.test')) {
    if (all) done(null, [{ address: '127.0.0.1', family: 4 }]);
    else done(null, '127.0.0.1', 4);
    return;
  }
  done(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
}) as LookupFunction;

function start(
  name: 'api' | 'other' | 'secure',
  state: Origins,
): Promise<{ origin: string; close(): Promise<void> }> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const seen: Seen = {
        origin: name,
        host: req.headers.host ?? '',
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers as Record<string, string | undefined>,
        body: Buffer.concat(chunks).toString(),
      };
      state.seen.push(seen);
      const route = state.routes.get(`${name}${url.pathname}`) ?? state.routes.get(url.pathname);
      if (route) return route(req, res, seen);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(seen));
    });
  };
  const server =
    name === 'secure'
      ? createTlsServer({ cert: TEST_CA, key: fixture('key.pem') }, handler)
      : createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin:
          name === 'api'
            ? `http://127.0.0.1:${port}`
            : name === 'other'
              ? `http://localhost:${port}`
              : String(port),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * Starts the servers for the test file (with `tls`, a third, HTTPS one); clears what
 * they saw, and their routes, after each test. Routes are keyed by path, or by
 * `other/path` / `secure/path` for one server only.
 */
export function useOrigins(options: { tls?: boolean } = {}): Origins {
  let securePort = '';
  const state: Origins = {
    api: '',
    other: '',
    secure: (host) => {
      if (!securePort) throw new Error('useOrigins({ tls: true }) starts the TLS server');
      return `https://${host}:${securePort}`;
    },
    seen: [],
    routes: new Map(),
  };
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    const [api, other, secure] = await Promise.all([
      start('api', state),
      start('other', state),
      ...(options.tls ? [start('secure', state)] : []),
    ]);
    state.api = api!.origin;
    state.other = other!.origin;
    closers.push(api!.close, other!.close);
    if (secure) {
      securePort = secure.origin;
      closers.push(secure.close);
    }
  });
  afterEach(() => {
    state.seen.length = 0;
    state.routes.clear();
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
  });
  return state;
}

/** A route that answers with this status, headers and body. */
export function answer(status: number, headers: Record<string, string> = {}, body = ''): Route {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

/** 401 for the first credential the route sees (one the API no longer accepts), then 200 with the request echoed. */
export function rejectFirstCredential(): Route {
  let first: string | undefined;
  return (_req, res, seen) => {
    first ??= seen.headers.authorization;
    res.writeHead(seen.headers.authorization === first ? 401 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  };
}

/** A redirect with this status to where `to()` says (read when the request comes). */
export function redirectTo(status: number, to: () => string): Route {
  return (_req, res) => {
    res.writeHead(status, { location: to() });
    res.end();
  };
}

/** What the fetch transport returns: the core view plus fetch's own `Response`. */
export type FetchHop = AuthResponse & { response: Response };

/** One hop over the global fetch, exactly as core gives it. */
export const fetchTransport: Transport<FetchHop> = async (hop: AuthRequest) => {
  const response = await fetch(hop.url, {
    method: hop.method,
    headers: hop.headers,
    body: (hop.body ?? null) as BodyInit | null,
    redirect: hop.redirect ?? 'manual',
    ...(hop.bodyIsStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return {
    status: response.status,
    headers: response.headers,
    url: response.url,
    discard: () => response.body?.cancel(),
    response,
  };
};

/** A caller's request. */
export function request(url: string, init: Partial<Omit<AuthRequest, 'url'>> = {}): AuthRequest {
  return { method: 'GET', headers: new Headers(), ...init, url: new URL(url) };
}
