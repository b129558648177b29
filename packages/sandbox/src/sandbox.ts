import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { demoClients, resolveClients, resolveIssuers, resolveLifetimes } from './clients.js';
import { applyFault, FAULT_TYPES, type HangRegistry } from './faults.js';
import {
  parseTarget,
  PREFLIGHT_HEADERS,
  preflight,
  readBody,
  sendJson,
  type Exchange,
  type ReadBody,
} from './http.js';
import { dispatch, echoBody, RESOURCE_ROUTES, routeOf, ROUTES, TOKEN_ROUTE_SERVICE } from './router.js';
import { CTRP_PREFIX } from './services/ctrp.js';
import { deviceDecisions, type DeviceSettings } from './services/device.js';
import { MEDBLOCKS_DEVICE_PATH, MEDBLOCKS_PREFIX, MEDBLOCKS_VERIFY_PATH } from './services/medblocks.js';
import { peerCertificate } from './services/mtls.js';
import { MSK_FHIR_PATH, MSK_TOKEN_PATH } from './services/msk.js';
import { OKTA_AUTH_SERVER } from './services/okta.js';
import { SMART_AUTHORIZE_PATH, SMART_FHIR_PATH, SMART_TOKEN_PATH } from './services/smart.js';
import { randomToken, SandboxState } from './state.js';
import type { Fault, RecordedRequest, SandboxOptions, SandboxRoute, TokenFilter } from './types.js';

/**
 * A running sandbox, from {@link startSandbox}: where each service answers, what it
 * received, and the levers of fault injection and forced revocation.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * sandbox.inject('okta-token', { type: 'rate-limit', retryAfterSeconds: 1 }, { times: 1 });
 * // … get a token from sandbox.urls.okta.tokenEndpoint: the first try gets 429 …
 * expect(sandbox.tokenRequests({ service: 'okta' }).map((r) => r.status)).toEqual([429, 200]);
 * await sandbox.close();
 * ```
 */
export interface Sandbox {
  /** `http://127.0.0.1:PORT` of the main listener (`https://` with `SandboxOptions.tls`). */
  readonly url: string;
  /** Where each emulated service answers. */
  readonly urls: {
    /** MSK APIM. */
    mskApim: {
      /** The APIM base URL (pass to `mskApim({ baseUrl })`). */
      baseUrl: string;
      /** `/msk-apim/external/msk-oidc/oauth2/token`. */
      tokenEndpoint: string;
      /** Blaze FHIR base, `/msk-apim/external/blaze/fhir`. */
      fhirBaseUrl: string;
    };
    /** Okta, for NCI CTRP. */
    okta: {
      /** The custom authorization server `/oauth2/default`. */
      issuer: string;
      /** `{issuer}/v1/token`. */
      tokenEndpoint: string;
    };
    /** The NCI CTRP API. */
    ctrp: {
      /** Base of the accrual services, `/ctrp`. */
      baseUrl: string;
    };
    /** Medblocks. */
    medblocks: {
      /** The Medblocks base URL, `/medblocks`. */
      baseUrl: string;
      /** `{baseUrl}/oauth2/token`. */
      tokenEndpoint: string;
      /** `{baseUrl}/oauth2/auth` (the sign-in page). */
      authorizeEndpoint: string;
      /** `{baseUrl}/oauth2/revoke`. */
      revocationEndpoint: string;
      /** `{baseUrl}/fhir`. */
      fhirBaseUrl: string;
      /** `{baseUrl}/oauth2/device/auth`: the device authorization endpoint (RFC 8628). */
      deviceAuthorizationEndpoint: string;
      /** `{baseUrl}/device`: the device flow's verification page, where a person enters the code. */
      deviceVerificationUri: string;
    };
    /** A SMART on FHIR server (Backend Services). */
    smart: {
      /** The FHIR base URL (pass to `smartBackendServices({ fhirBaseUrl })`), `/smart/fhir`. */
      fhirBaseUrl: string;
      /** `{fhirBaseUrl}/.well-known/smart-configuration`. */
      configurationUrl: string;
      /** `/smart/auth/token`: `private_key_jwt` (RS384, ES384) for backend clients, PKCE for public ones. */
      tokenEndpoint: string;
      /** `/smart/auth/authorize`: the sign-in page of App Launch. */
      authorizeEndpoint: string;
    };
    /** Any method, any subpath; needs a valid sandbox token of any service; answers what it received. */
    echo: string;
    /** `?to=<absolute url>&status=302|307`: redirects, no auth needed. */
    redirect: string;
    /** Another origin (a second port): answers what it received, to prove credentials never reach it. */
    elsewhere: string;
  };
  /** Every request to either listener, in order. */
  readonly requests: RecordedRequest[];
  /** Token endpoint requests (failed ones too). */
  tokenRequests(filter?: TokenFilter): RecordedRequest[];
  /** Requests to the protected resource routes. */
  resourceRequests(filter?: {
    /** Only requests to this route. Default: every resource route. */
    route?: SandboxRoute;
  }): RecordedRequest[];
  /** Queues a fault on a route, for `times` requests (default: all). */
  inject(
    route: SandboxRoute,
    fault: Fault,
    options?: {
      /** How many requests the fault applies to; a positive number. Default: every request. */
      times?: number;
    },
  ): void;
  /** Removes every queued fault. */
  clearFaults(): void;
  /** Revokes the matching access tokens: they now get 401 `invalid_token`. Returns how many. */
  revokeTokens(filter?: TokenFilter): number;
  /** How many access tokens were issued (matching the filter). */
  issuedTokens(filter?: TokenFilter): number;
  /** Forgets tokens, codes, requests and faults. */
  reset(): void;
  /** DPoP: makes the nonce proofs must carry a new one (with `dpopNonces`), as servers rotate theirs. */
  rotateDPoPNonce(): void;
  /**
   * SMART EHR launch: what an EHR does when a user opens your app from a patient's chart.
   * Returns the `iss` and `launch` the EHR puts on your app's launch URL; the sign-in that
   * follows gets this context beside its token.
   */
  smartLaunch(context?: {
    /** The patient in context. Default `p1`. */
    patient?: string;
    /** The encounter in context. */
    encounter?: string;
  }): {
    /** The FHIR base URL, as the EHR names itself. */
    iss: string;
    /** The opaque launch id the sign-in passes on. */
    launch: string;
  };
  /**
   * Medblocks device flow: what a person does on the verification page: signs in (as the
   * first sandbox user unless `username` names another) and approves the sign-in of
   * `userCode` (any case, with or without the dash). The client's next poll gets tokens.
   *
   * @throws TypeError when no sign-in with that code is waiting (unknown, expired or decided)
   */
  approveDevice(
    userCode: string,
    options?: {
      /** The user who approves. Default the first of `SandboxOptions.users` (`demo`). */
      username?: string;
    },
  ): void;
  /**
   * Medblocks device flow: the person denies the sign-in of `userCode`; the client's next
   * poll gets `access_denied`.
   *
   * @throws TypeError when no sign-in with that code is waiting
   */
  denyDevice(userCode: string): void;
  /** Closes both listeners and every open connection, hung ones included. */
  close(): Promise<void>;
}

type Listener = RecordedRequest['listener'];

function listen(server: Server | TlsServer, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server | TlsServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/** Checks `SandboxOptions.device`: whole positive seconds. */
function resolveDevice(device: SandboxOptions['device']): DeviceSettings {
  const seconds = (value: number | undefined, name: string, fallback: number) => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw new TypeError(`device.${name}: must be a whole number of seconds, at least 1`);
    return value;
  };
  return {
    intervalSeconds: seconds(device?.intervalSeconds, 'intervalSeconds', 5),
    expiresInSeconds: seconds(device?.expiresInSeconds, 'expiresInSeconds', 600),
  };
}

/** Checks `SandboxOptions.tls`: PEM text or bytes for `key` and `cert` (and `ca`), nothing else. */
function resolveTls(tls: SandboxOptions['tls']): SandboxOptions['tls'] {
  if (tls === undefined) return undefined;
  if (typeof tls !== 'object' || tls === null)
    throw new TypeError('tls: must be an object { key, cert, ca? }');
  const pem = (value: unknown) => typeof value === 'string' || Buffer.isBuffer(value);
  for (const name of Object.keys(tls))
    if (!['key', 'cert', 'ca'].includes(name)) throw new TypeError(`tls.${name}: unknown option`);
  if (!pem(tls.key)) throw new TypeError('tls.key: must be a PEM string or Buffer');
  if (!pem(tls.cert)) throw new TypeError('tls.cert: must be a PEM string or Buffer');
  if (tls.ca !== undefined && !pem(tls.ca)) throw new TypeError('tls.ca: must be a PEM string or Buffer');
  return tls;
}

/**
 * An http server, or with `tls` an https one. With `tls.ca` and `askCertificate`, it asks
 * for a client certificate but lets a connection without one (or with an untrusted one)
 * through: the routes decide, as RFC 8705 servers that also serve other clients do.
 */
function serverOf(
  tls: SandboxOptions['tls'],
  askCertificate: boolean,
  onRequest: RequestListener,
): Server | TlsServer {
  if (!tls) return createServer(onRequest);
  const mutual = askCertificate && tls.ca !== undefined;
  return createTlsServer(
    {
      key: tls.key,
      cert: tls.cert,
      ...(mutual ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
    },
    onRequest,
  );
}

function headersOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
  );
}

/**
 * Starts the sandbox on 127.0.0.1: emulators of MSK APIM, Okta (for NCI CTRP) and
 * Medblocks at their real paths, their protected APIs, an echo route, a redirect route
 * and a second listener that is another origin. Knows the {@link demoClients} plus
 * `options.clients`; tokens live 3600 s unless `options.tokenLifetimeSeconds` says
 * otherwise. Always `close()` it.
 *
 * @throws TypeError for a non-positive lifetime or a client without id or service.
 *
 * @example
 * ```ts
 * import { demoClients, startSandbox } from '@authrail/sandbox';
 *
 * const sandbox = await startSandbox({ tokenLifetimeSeconds: { okta: 1800 } });
 * const strategy = mskApim({
 *   baseUrl: sandbox.urls.mskApim.baseUrl,
 *   clientId: demoClients.mskApim.clientId,
 *   clientSecret: demoClients.mskApim.clientSecret,
 *   researchStudy: '17-001',
 * });
 * // … run requests, then read sandbox.tokenRequests() …
 * await sandbox.close();
 * ```
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const tls = resolveTls(options.tls);
  const state = new SandboxState(
    resolveClients(options.clients),
    options.users ?? [{ ...demoClients.user }],
    resolveLifetimes(options.tokenLifetimeSeconds),
    options.dpopNonces === true,
    resolveDevice(options.device),
    resolveIssuers(options.trustedIssuers),
  );
  state.mtls = tls?.ca !== undefined;
  const run: Running = { state, hung: new Set(), sockets: new Set(), baseUrl: '', closed: false };
  const main = makeServer(run, tls, 'main');
  const elsewhere = makeServer(run, tls, 'elsewhere');
  const port = await listen(main, options.port ?? 0);
  let otherPort: number;
  try {
    otherPort = await listen(elsewhere, 0);
  } catch (error) {
    await closeServer(main);
    throw error;
  }
  const scheme = tls ? 'https' : 'http';
  const baseUrl = `${scheme}://127.0.0.1:${port}`;
  run.baseUrl = baseUrl;
  let closing: Promise<void> | undefined;

  return {
    url: baseUrl,
    urls: urlsOf(baseUrl, `${scheme}://127.0.0.1:${otherPort}`),
    get requests() {
      return state.requests;
    },
    tokenRequests: (filter: TokenFilter = {}) => tokenRequestsOf(state, filter),
    resourceRequests(filter: { route?: SandboxRoute } = {}) {
      return state.requests.filter(
        (r) =>
          r.route !== undefined &&
          RESOURCE_ROUTES.has(r.route) &&
          (!filter.route || r.route === filter.route),
      );
    },
    inject: (route: SandboxRoute, fault: Fault, injectOptions: { times?: number } = {}) =>
      injectFault(state, route, fault, injectOptions),
    clearFaults() {
      state.faults.clear();
    },
    revokeTokens(filter?: TokenFilter) {
      const tokens = state.matching(filter).filter((t) => !t.revoked);
      for (const token of tokens) token.revoked = true;
      return tokens.length;
    },
    issuedTokens(filter?: TokenFilter) {
      return state.matching(filter).length;
    },
    reset() {
      state.reset();
    },
    rotateDPoPNonce() {
      state.dpop.nonce = randomToken(16);
    },
    smartLaunch(context = {}) {
      const launch = randomToken(12);
      state.smart.launches.set(launch, {
        patient: context.patient ?? 'p1',
        ...(context.encounter ? { encounter: context.encounter } : {}),
      });
      return { iss: `${baseUrl}${SMART_FHIR_PATH}`, launch };
    },
    ...deviceDecisions(state),
    close() {
      closing ??= closeSandbox(run, [main, elsewhere]);
      return closing;
    },
  };
}

/**
 * What a running sandbox's listeners and levers share: its state, the exchanges a `hang`
 * fault holds, the open sockets (to destroy on close), and its base URL, known once the
 * main listener listens.
 */
interface Running {
  state: SandboxState;
  hung: HangRegistry;
  sockets: Set<Socket>;
  baseUrl: string;
  /** Set by `close()`: a fault that waited must not answer afterwards. */
  closed: boolean;
}

/** One listener: answers with {@link handleRequest}, a 500 when that fails, and tracks its sockets. */
function makeServer(run: Running, tls: SandboxOptions['tls'], listener: Listener): Server | TlsServer {
  const server = serverOf(tls, listener === 'main', (req, res) => {
    handleRequest(run, listener, req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"error":"server_error","error_description":"The sandbox failed on this request"}');
      }
    });
  });
  server.on('connection', (socket) => {
    run.sockets.add(socket);
    socket.on('close', () => run.sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
  });
  return server;
}

/** Records a request, reads its body, and answers it: a refusal, a preflight, a fault, or its route. */
async function handleRequest(
  run: Running,
  listener: Listener,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const target = req.url ?? '/';
  const url = parseTarget(target);
  const record = recordRequest(run.state, listener, req, url, target);
  // A CORS preflight is browser machinery, not a hit on the route: it gets no route (nor faults).
  const route = listener === 'main' && url && req.method !== 'OPTIONS' ? routeOf(url.pathname) : undefined;
  if (route) record.route = route;
  let read: ReadBody;
  try {
    read = await readBody(req);
  } catch {
    return; // the client went away: nothing to answer
  }
  record.body = read.body;
  const ex: Exchange = { req, res, url: url ?? new URL('http://127.0.0.1/'), body: read.body, record };
  if (!url)
    return sendJson(ex, 400, { error: 'invalid_request', error_description: 'Unparsable request target' });
  if (read.tooLarge) {
    return sendJson(
      ex,
      413,
      {
        error: 'invalid_request',
        error_description: 'The request body is larger than the sandbox accepts (8 MiB)',
      },
      { Connection: 'close' },
    );
  }
  if (listener === 'elsewhere') {
    // Another origin: answers anything (a preflight too, so a leak is recorded, not blocked).
    return sendJson(ex, 200, echoBody(ex), req.method === 'OPTIONS' ? { ...PREFLIGHT_HEADERS } : {});
  }
  if (req.method === 'OPTIONS') return preflight(ex);
  if (route) {
    const fault = run.state.nextFault(route);
    if (fault && (await applyFault(ex, fault, run.hung)) === 'handled') return;
    if (run.closed) return;
  }
  await dispatch(ex, run.state, run.baseUrl);
}

/** Adds a request to `state.requests` as it arrives (its body and status are filled in later). */
function recordRequest(
  state: SandboxState,
  listener: Listener,
  req: IncomingMessage,
  url: URL | undefined,
  target: string,
): RecordedRequest {
  const record: RecordedRequest = {
    listener,
    method: req.method ?? 'GET',
    path: url?.pathname ?? target,
    query: url ? Object.fromEntries(url.searchParams) : {},
    headers: headersOf(req),
    body: Buffer.alloc(0),
    status: 0,
    time: Date.now(),
  };
  const certificate = peerCertificate(req);
  if (certificate) record.clientCertificate = certificate.thumbprint;
  state.requests.push(record);
  return record;
}

/** {@link Sandbox.urls} of a sandbox listening at `baseUrl`, with its other origin at `elsewhere`. */
function urlsOf(baseUrl: string, elsewhere: string): Sandbox['urls'] {
  const issuer = `${baseUrl}/oauth2/${OKTA_AUTH_SERVER}`;
  const medblocks = `${baseUrl}${MEDBLOCKS_PREFIX}`;
  return {
    mskApim: {
      baseUrl,
      tokenEndpoint: `${baseUrl}${MSK_TOKEN_PATH}`,
      fhirBaseUrl: `${baseUrl}${MSK_FHIR_PATH}`,
    },
    okta: { issuer, tokenEndpoint: `${issuer}/v1/token` },
    ctrp: { baseUrl: `${baseUrl}${CTRP_PREFIX}` },
    medblocks: {
      baseUrl: medblocks,
      tokenEndpoint: `${medblocks}/oauth2/token`,
      authorizeEndpoint: `${medblocks}/oauth2/auth`,
      revocationEndpoint: `${medblocks}/oauth2/revoke`,
      fhirBaseUrl: `${medblocks}/fhir`,
      deviceAuthorizationEndpoint: `${medblocks}${MEDBLOCKS_DEVICE_PATH}`,
      deviceVerificationUri: `${medblocks}${MEDBLOCKS_VERIFY_PATH}`,
    },
    smart: {
      fhirBaseUrl: `${baseUrl}${SMART_FHIR_PATH}`,
      configurationUrl: `${baseUrl}${SMART_FHIR_PATH}/.well-known/smart-configuration`,
      tokenEndpoint: `${baseUrl}${SMART_TOKEN_PATH}`,
      authorizeEndpoint: `${baseUrl}${SMART_AUTHORIZE_PATH}`,
    },
    echo: `${baseUrl}/echo`,
    redirect: `${baseUrl}/redirect`,
    elsewhere,
  };
}

/** {@link Sandbox.tokenRequests}: the recorded requests to a token route, filtered. */
function tokenRequestsOf(state: SandboxState, filter: TokenFilter): RecordedRequest[] {
  return state.requests.filter((r) => {
    const service = r.route === undefined ? undefined : TOKEN_ROUTE_SERVICE.get(r.route);
    return (
      service !== undefined &&
      (!filter.service || service === filter.service) &&
      (!filter.clientId || r.clientId === filter.clientId)
    );
  });
}

/** {@link Sandbox.inject}: checks the route, fault and count, and queues the fault. */
function injectFault(
  state: SandboxState,
  route: SandboxRoute,
  fault: Fault,
  injectOptions: { times?: number },
): void {
  if (!ROUTES.has(route)) throw new TypeError(`route: unknown route ${String(route)}`);
  if (!fault || !FAULT_TYPES.has(fault.type)) {
    throw new TypeError(
      `fault: unknown fault type ${String((fault as { type?: unknown } | undefined)?.type)}`,
    );
  }
  const times = injectOptions.times ?? Number.POSITIVE_INFINITY;
  if (typeof times !== 'number' || !(times > 0)) throw new TypeError('times: must be a positive number');
  const queue = state.faults.get(route) ?? [];
  queue.push({ fault, remaining: times });
  state.faults.set(route, queue);
}

/** {@link Sandbox.close}: ends hung exchanges, then closes both listeners and every connection. */
async function closeSandbox(run: Running, servers: (Server | TlsServer)[]): Promise<void> {
  run.closed = true;
  for (const ex of run.hung) ex.res.destroy();
  run.hung.clear();
  const done = Promise.all(servers.map(closeServer));
  for (const server of servers) server.closeAllConnections();
  for (const socket of run.sockets) socket.destroy();
  await done;
}
