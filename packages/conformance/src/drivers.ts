// One driver per real HTTP client. Each sends a request the way that client's users
// do and reports what came back in one shape, so the conformance table can hold every
// adapter to the same assertions. Nothing here is mocked: each driver is the real client,
// on a network setup that trusts the tests' TLS certificate and resolves *.authrail.test
// to 127.0.0.1 (undici's `connect` options for fetch, ky and the undici interceptor, Node
// agents for axios).
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import axios from 'axios';
import ky from 'ky';
import ky1 from 'ky1';
import { Agent, request as request6 } from 'undici';
import * as undici7 from 'undici7';
import type { AuthStrategy } from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';
import { TEST_CA, testLookup } from '@authrail/test-utils';

export type BodyKind =
  | 'none'
  | 'json'
  | 'xml'
  | 'urlsearchparams'
  | 'formdata'
  | 'blob'
  | 'arraybuffer'
  | 'stream'
  | 'large-stream';

interface DriverRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: BodyKind;
  signal?: AbortSignal;
  /** The client's own timeout option, in ms. */
  timeout?: number;
}

interface DriverResponse {
  status: number;
  text: string;
}

export interface Driver {
  name: string;
  /** Builds the authenticated client and returns a function that sends one request. */
  client(strategy: AuthStrategy): (request: DriverRequest) => Promise<DriverResponse>;
  /** The status of a rejected call, read the way this client reports HTTP errors; undefined if it is not an HTTP error. */
  httpErrorStatus(error: unknown): number | undefined;
  /** Whether the error is this client's way of saying "aborted or timed out". */
  isAbort(error: unknown): boolean;
  /** Whether the client returns an HTTP error status as a response (fetch, undici.request) instead of throwing it. */
  returnsHttpErrors: boolean;
  /**
   * The authrail error (`TokenEndpointError`, `MissingScopeError`, …) a rejected call
   * reports, read the way this client reports it: the error itself, or, where the client
   * wraps its transport's errors (fetch over a dispatcher: `TypeError: fetch failed`),
   * the wrapper's `cause`; anything else comes back as it is.
   */
  authrailError(error: unknown): unknown;
}

export const JSON_BODY = { resourceType: 'Patient', name: [{ family: 'Lovelace', given: ['Ada'] }] };
export const XML_BODY = '<?xml version="1.0"?><accrual><studySubject><id>S-1</id></studySubject></accrual>';
export const BINARY = new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);

const dispatcher = new Agent({ connect: { ca: TEST_CA, lookup: testLookup } });
/** The runtime's own fetch, on the test network. */
const testFetch: typeof fetch = (input, init) => fetch(input, { ...init, dispatcher } as RequestInit);

function makeBody(
  kind: BodyKind | undefined,
  forAxios: boolean,
): { body?: unknown; headers: Record<string, string> } {
  switch (kind) {
    case undefined:
    case 'none':
      return { headers: {} };
    case 'json':
      return { body: JSON.stringify(JSON_BODY), headers: { 'Content-Type': 'application/json' } };
    case 'xml':
      return { body: XML_BODY, headers: { 'Content-Type': 'application/xml' } };
    case 'urlsearchparams':
      return {
        body: new URLSearchParams({ trial: 'NCI-2024-00001', site: 'po 123', note: 'a&b=c' }),
        headers: {},
      };
    case 'formdata': {
      const form = new FormData();
      form.append('field', 'value');
      form.append('file', new Blob([BINARY], { type: 'application/octet-stream' }), 'data.bin');
      return { body: form, headers: {} };
    }
    case 'blob':
      return {
        body: new Blob([BINARY], { type: 'application/octet-stream' }),
        headers: { 'Content-Type': 'application/octet-stream' },
      };
    case 'arraybuffer':
      return { body: BINARY.slice().buffer, headers: { 'Content-Type': 'application/octet-stream' } };
    case 'large-stream': {
      // Over the 1 MiB a wrapper may read to make a Request body replayable (ky's): one-shot everywhere.
      const chunks = Array.from({ length: 5 }, () => new Uint8Array(256 * 1024).fill(97));
      return {
        body: forAxios
          ? Readable.from(chunks.map((c) => Buffer.from(c)))
          : new ReadableStream({
              start(controller) {
                for (const chunk of chunks) controller.enqueue(chunk);
                controller.close();
              },
            }),
        headers: { 'Content-Type': 'text/plain' },
      };
    }
    case 'stream':
      return forAxios
        ? {
            body: Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')]),
            headers: { 'Content-Type': 'text/plain' },
          }
        : {
            body: new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode('chunk-1;'));
                controller.enqueue(new TextEncoder().encode('chunk-2'));
                controller.close();
              },
            }),
            headers: { 'Content-Type': 'text/plain' },
          };
  }
}

const isAbortOrTimeout = (error: unknown) => ['AbortError', 'TimeoutError'].includes((error as Error)?.name);

const fetchDriver: Driver = {
  name: 'fetch',
  client(strategy) {
    const api = createAuthFetch(strategy, { fetch: testFetch });
    return async (request) => {
      const { body, headers } = makeBody(request.body, false);
      const signals = [
        request.signal,
        request.timeout ? AbortSignal.timeout(request.timeout) : undefined,
      ].filter((s): s is AbortSignal => !!s);
      const response = await api(request.url, {
        method: request.method,
        headers: { ...headers, ...request.headers },
        ...(body === undefined ? {} : { body: body as BodyInit }),
        ...(request.body === 'stream' ? { duplex: 'half' } : {}),
        ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
      } as RequestInit);
      return { status: response.status, text: await response.text() };
    };
  },
  httpErrorStatus: () => undefined, // fetch reports HTTP errors as responses, never throws them
  isAbort: isAbortOrTimeout,
  returnsHttpErrors: true,
  authrailError: (error) => error,
};

function kyDriver(name: string, instance: typeof ky): Driver {
  return {
    name,
    client(strategy) {
      // ky's own defaults (retry limit 2, timeout 10 s): the table proves the adapter under them.
      const api = createAuthKy(strategy, { ky: instance, fetch: testFetch });
      return async (request) => {
        const { body, headers } = makeBody(request.body, false);
        const response = await api(request.url, {
          method: request.method,
          headers: { ...headers, ...request.headers },
          // ky's users send JSON with the `json` option; other bodies as `body`.
          ...(request.body === 'json'
            ? { json: JSON_BODY }
            : body === undefined
              ? {}
              : { body: body as BodyInit }),
          ...(request.body === 'stream' ? { duplex: 'half' } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
          ...(request.timeout ? { timeout: request.timeout } : {}),
        } as never);
        return { status: response.status, text: await response.text() };
      };
    },
    httpErrorStatus: (error) =>
      (error as Error)?.name === 'HTTPError' ? (error as { response: Response }).response.status : undefined,
    isAbort: isAbortOrTimeout,
    returnsHttpErrors: false,
    authrailError: (error) => error,
  };
}

const axiosDriver: Driver = {
  name: 'axios',
  client(strategy) {
    const instance = axios.create({
      httpAgent: new HttpAgent({ lookup: testLookup } as never),
      httpsAgent: new HttpsAgent({ ca: TEST_CA, lookup: testLookup }),
    });
    attachAuth(instance, strategy);
    return async (request) => {
      const { body, headers } = makeBody(request.body, true);
      const response = await instance.request<string>({
        url: request.url,
        method: request.method,
        headers: { ...headers, ...request.headers },
        // axios' users send JSON as an object that axios serialises; other bodies as they are.
        data: request.body === 'json' ? JSON_BODY : body,
        responseType: 'text',
        transformResponse: (data: string) => data,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.timeout ? { timeout: request.timeout } : {}),
      });
      return { status: response.status, text: response.data };
    };
  },
  // Duck typed, as authrail recognises axios errors: any copy of axios.
  httpErrorStatus: (error) => {
    const candidate = error as { isAxiosError?: boolean; response?: { status: number } } | null;
    return candidate?.isAxiosError === true ? candidate.response?.status : undefined;
  },
  isAbort: (error) => axios.isCancel(error) || (error as { code?: string } | null)?.code === 'ECONNABORTED',
  returnsHttpErrors: false,
  authrailError: (error) => error,
};

// The undici interceptor (@authrail/undici) is routed by origin and `client(strategy)` takes
// one strategy, which does not say its origins: each client routes the origin of every URL
// a row asks it for, as its user would route the origins they call. A hop elsewhere (a
// redirect) is routed only if a row called that origin itself; core's origin check decides
// the rest, as ever.

type Dispatcher = undici7.Dispatcher;

/** A composed dispatcher per set of routed origins, rebuilt when a row calls a new origin. */
function routedDispatcher(
  strategy: AuthStrategy,
  compose: (routes: Record<string, AuthStrategy>) => Dispatcher,
): (url: string) => Dispatcher {
  const origins: Record<string, AuthStrategy> = {};
  let composed: Dispatcher | undefined;
  return (url) => {
    const { origin } = new URL(url);
    if (composed === undefined || !(origin in origins)) {
      origins[origin] = strategy;
      composed = compose({ ...origins });
    }
    return composed;
  };
}

/** The bodies undici.request's users send: strings, bytes, a Blob, FormData, a Node Readable. */
function requestBody(kind: BodyKind | undefined): { body?: unknown; headers: Record<string, string> } {
  switch (kind) {
    case 'json':
    case 'xml':
    case 'blob':
    case 'formdata':
    case 'stream':
    case 'large-stream':
      return makeBody(kind, true);
    case 'urlsearchparams': {
      const { body } = makeBody(kind, true);
      return {
        body: String(body),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      };
    }
    case 'arraybuffer':
      return { body: Buffer.from(BINARY), headers: { 'Content-Type': 'application/octet-stream' } };
    default:
      return { headers: {} };
  }
}

/** One signal for the caller's signal and the client's timeout, as fetch users combine them. */
function signalOf(request: DriverRequest): AbortSignal | undefined {
  const signals = [request.signal, request.timeout ? AbortSignal.timeout(request.timeout) : undefined];
  const given = signals.filter((s): s is AbortSignal => !!s);
  return given.length ? AbortSignal.any(given) : undefined;
}

const undiciAbort = (error: unknown) =>
  isAbortOrTimeout(error) || (error as { code?: string } | null)?.code === 'UND_ERR_ABORTED';

/**
 * `undici.request` over `new Agent({ connect }).compose(authrail(routes))`. undici 6's
 * users ask for redirects per request (`maxRedirections`, which core then follows hop by
 * hop); undici 7's compose its redirect interceptor, outside authrail as documented, so
 * every hop comes through authrail again. undici.request has no timeout of its own over a
 * whole request (its headersTimeout and bodyTimeout time the socket): its users use a signal.
 */
function undiciRequestDriver(name: string, v7: boolean): Driver {
  const agent = v7
    ? new undici7.Agent({ connect: { ca: TEST_CA, lookup: testLookup } })
    : (new Agent({ connect: { ca: TEST_CA, lookup: testLookup } }) as unknown as undici7.Agent);
  return {
    name,
    client(strategy) {
      const dispatcherFor = routedDispatcher(strategy, (routes) =>
        v7
          ? agent.compose(authrail(routes), undici7.interceptors.redirect({ maxRedirections: 20 }))
          : agent.compose(authrail(routes)),
      );
      const send = v7 ? undici7.request : (request6 as unknown as typeof undici7.request);
      return async (request) => {
        const { body, headers } = requestBody(request.body);
        const signal = signalOf(request);
        const response = await send(request.url, {
          dispatcher: dispatcherFor(request.url),
          method: request.method as 'GET',
          headers: { ...headers, ...request.headers },
          ...(body === undefined ? {} : { body: body as string }),
          ...(signal ? { signal } : {}),
          ...(v7 ? {} : { maxRedirections: 20 }),
        });
        return { status: response.statusCode, text: await response.body.text() };
      };
    },
    httpErrorStatus: () => undefined, // undici.request returns every status
    isAbort: undiciAbort,
    returnsHttpErrors: true,
    authrailError: (error) => error,
  };
}

/** Requests of the global-fetch column in flight, and the global dispatcher from before the first. */
let globalUsers = 0;
let globalBefore: Dispatcher | undefined;

/**
 * Runs one request with `dispatcher` as the process's global dispatcher, and puts back the
 * one from before when the last such request in flight ends: the other columns, and the
 * sandbox calls between rows, see the global dispatcher as it was.
 */
async function withGlobalDispatcher<T>(dispatcher: Dispatcher, run: () => Promise<T>): Promise<T> {
  if (globalUsers === 0) globalBefore = undici7.getGlobalDispatcher();
  globalUsers += 1;
  undici7.setGlobalDispatcher(dispatcher);
  try {
    return await run();
  } finally {
    globalUsers -= 1;
    if (globalUsers === 0) undici7.setGlobalDispatcher(globalBefore!);
  }
}

/** The runtime's own global `fetch`, unchanged, after `setGlobalDispatcher` of the composed agent. */
const globalFetchDriver: Driver = {
  name: 'global fetch + undici interceptor',
  client(strategy) {
    const agent = new undici7.Agent({ connect: { ca: TEST_CA, lookup: testLookup } });
    const dispatcherFor = routedDispatcher(strategy, (routes) => agent.compose(authrail(routes)));
    return async (request) => {
      const { body, headers } = makeBody(request.body, false);
      const signal = signalOf(request);
      return withGlobalDispatcher(dispatcherFor(request.url), async () => {
        const response = await fetch(request.url, {
          method: request.method,
          headers: { ...headers, ...request.headers },
          ...(body === undefined ? {} : { body: body as BodyInit }),
          ...(request.body === 'stream' || request.body === 'large-stream' ? { duplex: 'half' } : {}),
          ...(signal ? { signal } : {}),
        } as RequestInit);
        return { status: response.status, text: await response.text() };
      });
    };
  },
  httpErrorStatus: () => undefined,
  isAbort: isAbortOrTimeout,
  returnsHttpErrors: true,
  // fetch reports every error of its dispatcher as `TypeError: fetch failed`, the error its cause.
  authrailError: (error) =>
    error instanceof TypeError && error.message === 'fetch failed' ? (error.cause ?? error) : error,
};

export const drivers: Driver[] = [
  fetchDriver,
  kyDriver('ky 2', ky),
  kyDriver('ky 1', ky1 as unknown as typeof ky),
  axiosDriver,
  undiciRequestDriver('undici 6 request + undici interceptor', false),
  undiciRequestDriver('undici 7 request + undici interceptor', true),
  globalFetchDriver,
];
