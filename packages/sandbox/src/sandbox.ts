import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { applyFault, type HangRegistry } from './faults.js';
import { preflight, readBody, redirect, sendJson, type Exchange } from './http.js';
import { authenticate } from './services/common.js';
import { CTRP_PREFIX, ctrpAccrual } from './services/ctrp.js';
import { MEDBLOCKS_PREFIX, medblocksRoute } from './services/medblocks.js';
import { MSK_FHIR_PATH, MSK_TOKEN_PATH, mskFhir, mskToken } from './services/msk.js';
import { oktaRoute, OKTA_AUTH_SERVER } from './services/okta.js';
import { SandboxState } from './state.js';
import type {
  Fault,
  RecordedRequest,
  SandboxClient,
  SandboxOptions,
  SandboxRoute,
  SandboxService,
  TokenFilter,
} from './types.js';

/**
 * The demo clients every sandbox knows. These are fake credentials of the local
 * sandbox, safe to print and commit.
 */
export const demoClients = {
  /** The MSK APIM client. */
  mskApim: {
    /** Client id. */
    clientId: 'msk-demo-client',
    /** Client secret (fake, local only). */
    clientSecret: 'msk-demo-secret',
    /** Protocols it may access. */
    researchStudies: ['12-245', '17-001'],
  },
  /** The Okta (CTRP) service app. */
  okta: {
    /** Client id. */
    clientId: 'ctrp-demo-client',
    /** Client secret (fake, local only). */
    clientSecret: 'ctrp-demo-secret',
    /** Scopes it may request. */
    scopes: ['ctrp.accrual', 'ctrp.read'],
  },
  /** The Medblocks backend client (client credentials). */
  medblocksBackend: {
    /** Client id. */
    clientId: 'medblocks-demo-backend',
    /** Client secret (fake, local only). */
    clientSecret: 'medblocks-demo-secret',
  },
  /** The Medblocks public client for browser apps (PKCE, no secret). */
  medblocksSpa: {
    /** Client id. */
    clientId: 'medblocks-demo-spa',
  },
  /** The user of the Medblocks sign-in page. */
  user: {
    /** Sign-in name. */
    username: 'demo',
    /** Its password. */
    password: 'demo',
  },
} as const;

const DEMO_CLIENTS: SandboxClient[] = [
  { service: 'mskApim', ...demoClients.mskApim, researchStudies: [...demoClients.mskApim.researchStudies] },
  { service: 'okta', ...demoClients.okta, scopes: [...demoClients.okta.scopes] },
  { service: 'medblocks', ...demoClients.medblocksBackend },
  { service: 'medblocks', ...demoClients.medblocksSpa },
];

/** A running sandbox. */
export interface Sandbox {
  /** `http://127.0.0.1:PORT` of the main listener. */
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
    };
    /** Any method, any subpath; needs a valid sandbox token of any service; answers what it received. */
    echo: string;
    /** `?to=<absolute url>&status=302|307`: redirects, no auth needed. */
    redirect: string;
    /** Another origin (a second port): answers what it received, to prove credentials never reach it. */
    elsewhere: string;
  };
  /** Every request to either listener, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Token endpoint requests (failed ones too). */
  tokenRequests(filter?: TokenFilter): RecordedRequest[];
  /** Requests to the protected resource routes. */
  resourceRequests(filter?: { route?: SandboxRoute }): RecordedRequest[];
  /** Queues a fault on a route, for `times` requests (default: all). */
  inject(route: SandboxRoute, fault: Fault, options?: { times?: number }): void;
  /** Removes every queued fault. */
  clearFaults(): void;
  /** Revokes the matching access tokens: they now get 401 `invalid_token`. Returns how many. */
  revokeTokens(filter?: TokenFilter): number;
  /** How many access tokens were issued (matching the filter). */
  issuedTokens(filter?: TokenFilter): number;
  /** Forgets tokens, codes, requests and faults. */
  reset(): void;
  /** Closes both listeners and every open connection, hung ones included. */
  close(): Promise<void>;
}

const TOKEN_ROUTES = new Set<SandboxRoute>(['msk-token', 'okta-token', 'medblocks-token']);
const RESOURCE_ROUTES = new Set<SandboxRoute>(['msk-fhir', 'ctrp-accrual', 'medblocks-fhir', 'echo']);
const SERVICE_OF_ROUTE: Partial<Record<SandboxRoute, SandboxService>> = {
  'msk-token': 'mskApim',
  'okta-token': 'okta',
  'medblocks-token': 'medblocks',
};

function routeOf(pathname: string): SandboxRoute | undefined {
  if (pathname === MSK_TOKEN_PATH) return 'msk-token';
  if (pathname === MSK_FHIR_PATH || pathname.startsWith(`${MSK_FHIR_PATH}/`)) return 'msk-fhir';
  if (/^\/oauth2\/[^/]+\/v1\/token$/.test(pathname)) return 'okta-token';
  if (pathname.startsWith(`${CTRP_PREFIX}/accrual-services/`)) return 'ctrp-accrual';
  if (pathname === `${MEDBLOCKS_PREFIX}/oauth2/token`) return 'medblocks-token';
  if (pathname === `${MEDBLOCKS_PREFIX}/oauth2/auth` || pathname === `${MEDBLOCKS_PREFIX}/oauth2/authorize`)
    return 'medblocks-authorize';
  if (pathname === `${MEDBLOCKS_PREFIX}/fhir` || pathname.startsWith(`${MEDBLOCKS_PREFIX}/fhir/`))
    return 'medblocks-fhir';
  if (pathname === '/echo' || pathname.startsWith('/echo/')) return 'echo';
  return undefined;
}

function echoBody(ex: Exchange): unknown {
  return {
    method: ex.record.method,
    path: ex.record.path,
    query: ex.record.query,
    headers: ex.record.headers,
    bodyBase64: ex.body.toString('base64'),
    contentType: ex.req.headers['content-type'] ?? null,
  };
}

function lifetimes(option: SandboxOptions['tokenLifetimeSeconds']): Record<SandboxService, number> {
  const all = typeof option === 'number' ? option : 3600;
  const per = typeof option === 'object' ? option : {};
  const check = (value: number, name: string) => {
    if (!Number.isFinite(value) || value <= 0)
      throw new TypeError(`tokenLifetimeSeconds${name}: must be a positive number`);
    return value;
  };
  return {
    mskApim: check(per.mskApim ?? all, '.mskApim'),
    okta: check(per.okta ?? all, '.okta'),
    medblocks: check(per.medblocks ?? all, '.medblocks'),
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts the sandbox: emulators of MSK APIM, Okta (for NCI CTRP) and Medblocks at their
 * real paths, a protected FHIR-like API, an echo route, and a second origin.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * const strategy = mskApim({ baseUrl: sandbox.urls.mskApim.baseUrl, ...demoClients.mskApim, researchStudy: '17-001' });
 * // … run requests, then read sandbox.tokenRequests() …
 * await sandbox.close();
 * ```
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clients = new Map(DEMO_CLIENTS.map((c) => [c.clientId, c]));
  for (const client of options.clients ?? []) clients.set(client.clientId, client);
  const state = new SandboxState(
    [...clients.values()],
    options.users ?? [{ ...demoClients.user }],
    lifetimes(options.tokenLifetimeSeconds),
  );
  const hung: HangRegistry = new Set();
  const sockets = new Set<Socket>();
  let baseUrl = '';

  async function handle(
    listener: 'main' | 'elsewhere',
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = {
      listener,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      ),
      body: Buffer.alloc(0),
      status: 0,
      time: Date.now(),
    };
    state.requests.push(record);
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.destroy();
      return;
    }
    record.body = body;
    const ex: Exchange = { req, res, url, body, record };
    if (req.method === 'OPTIONS') return preflight(ex);
    if (listener === 'elsewhere') return sendJson(ex, 200, echoBody(ex));

    const route = routeOf(url.pathname);
    if (route) {
      record.route = route;
      for (let fault = state.nextFault(route); fault; fault = undefined) {
        if ((await applyFault(ex, fault, hung)) === 'handled') return;
      }
    }
    if (url.pathname === MSK_TOKEN_PATH) return mskToken(ex, state);
    if (route === 'msk-fhir') return mskFhir(ex, state, baseUrl);
    if (oktaRoute(ex, state, baseUrl)) return;
    if (ctrpAccrual(ex, state)) return;
    if (url.pathname.startsWith(`${MEDBLOCKS_PREFIX}/`) && medblocksRoute(ex, state, baseUrl)) return;
    if (route === 'echo') {
      if (authenticate(ex, state, ['mskApim', 'okta', 'medblocks'])) sendJson(ex, 200, echoBody(ex));
      return;
    }
    if (url.pathname === '/redirect') {
      const to = url.searchParams.get('to');
      const status = Number(url.searchParams.get('status') ?? 302);
      if (!to || !/^https?:\/\//.test(to) || ![301, 302, 303, 307, 308].includes(status)) {
        return sendJson(ex, 400, {
          error: 'invalid_request',
          error_description: 'to must be an absolute http(s) URL; status a redirect status',
        });
      }
      return redirect(ex, to, status);
    }
    sendJson(ex, 404, {
      error: 'not_found',
      error_description: `No sandbox route for ${req.method} ${url.pathname}`,
    });
  }

  const makeServer = (listener: 'main' | 'elsewhere') => {
    const server = createServer((req, res) => {
      handle(listener, req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"error":"server_error"}');
      });
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    return server;
  };

  const main = makeServer('main');
  const elsewhere = makeServer('elsewhere');
  const port = await listen(main, options.port ?? 0);
  const otherPort = await listen(elsewhere, 0);
  baseUrl = `http://127.0.0.1:${port}`;
  const issuer = `${baseUrl}/oauth2/${OKTA_AUTH_SERVER}`;
  const medblocks = `${baseUrl}${MEDBLOCKS_PREFIX}`;
  let closing: Promise<void> | undefined;

  return {
    url: baseUrl,
    urls: {
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
      },
      echo: `${baseUrl}/echo`,
      redirect: `${baseUrl}/redirect`,
      elsewhere: `http://127.0.0.1:${otherPort}`,
    },
    get requests() {
      return state.requests;
    },
    tokenRequests(filter = {}) {
      return state.requests.filter(
        (r) =>
          r.route !== undefined &&
          TOKEN_ROUTES.has(r.route) &&
          (!filter.service || SERVICE_OF_ROUTE[r.route] === filter.service) &&
          (!filter.clientId || r.clientId === filter.clientId),
      );
    },
    resourceRequests(filter = {}) {
      return state.requests.filter(
        (r) =>
          r.route !== undefined &&
          RESOURCE_ROUTES.has(r.route) &&
          (!filter.route || r.route === filter.route),
      );
    },
    inject(route, fault, injectOptions = {}) {
      const times = injectOptions.times ?? Number.POSITIVE_INFINITY;
      if (!(times > 0)) throw new TypeError('times: must be a positive number');
      const queue = state.faults.get(route) ?? [];
      queue.push({ fault, remaining: times });
      state.faults.set(route, queue);
    },
    clearFaults() {
      state.faults.clear();
    },
    revokeTokens(filter) {
      const tokens = state.matching(filter).filter((t) => !t.revoked);
      for (const token of tokens) token.revoked = true;
      return tokens.length;
    },
    issuedTokens(filter) {
      return state.matching(filter).length;
    },
    reset() {
      state.reset();
    },
    close() {
      closing ??= (async () => {
        for (const ex of hung) ex.res.destroy();
        const closed = Promise.all(
          [main, elsewhere].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
        );
        for (const server of [main, elsewhere]) server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
