// Workload 1, overhead: the same GET to a loopback keep-alive server, with a cached token,
// through each adapter and peer vs the bare client sending the same static header, at
// concurrency 1 and 64, in interleaved rounds of one process run. Plus the per-call cost
// of core's loop and of the credential step alone, in nanoseconds.
//
//   pnpm bench:overhead            full run (a few minutes)
//   pnpm bench:overhead --long     authrail, the bare clients and the references only, 5× the rounds
//   pnpm bench:overhead --quick    a smoke run: checks the harness, not the numbers
import { fileURLToPath } from 'node:url';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import { createAuthRefreshInterceptor } from 'axios-auth-refresh';
import ky from 'ky';
import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client';
import { withTokenRefresh } from 'fetch-extras';
import { Agent, request as undiciRequest } from 'undici';
import { createOidcInterceptor } from 'undici-oidc-interceptor';
import {
  bearer,
  createAuthStrategy,
  createToken,
  type AuthRequest,
  type AuthResponse,
  type TokenAuthStrategy,
  type TokenSource,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { clientCredentials, clientSecretPost } from '@authrail/oauth2';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';
import {
  compare,
  formatRatio,
  perCall,
  report,
  startServer,
  type Measured,
  type Variant,
} from './harness.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.bench-access-token-with-a-realistic-length.signature-0123456789';
const STATIC = `Bearer ${TOKEN}`;
/** undici-oidc-interceptor reads `exp` from the token: a JWT-shaped one that lives a day. */
const JWT = [
  { alg: 'none', typ: 'JWT' },
  { sub: 'bench', exp: Math.floor(Date.now() / 1000) + 24 * 3600 },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
  .concat('bench-signature')
  .join('.');

/**
 * The name of the reference row: a wrapper of fetch that parses the URL, checks its origin
 * and sets the header, the least a wrapper that keeps a credential to allowed origins does.
 */
export const REFERENCE_WRAPPER = 'reference: URL parse + origin check + header';
/**
 * The name of the second reference row: the same work in the three promise layers every
 * request of the contract passes (the adapter, core's loop, the transport answering with
 * an {@link AuthResponse}), and nothing else: the least any adapter of `AuthStrategy.send`
 * costs.
 */
export const REFERENCE_LAYERS = 'reference, in the contract’s three promise layers';

/** A token source with no server behind it: the token is cached after the first call. */
function strategyFor(origin: string): TokenAuthStrategy {
  const source: TokenSource = {
    identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'bench' },
    fetchToken: () => Promise.resolve(createToken({ accessToken: TOKEN, expiresIn: 24 * 3600 })),
  };
  return createAuthStrategy({ source, origins: [origin] });
}

/**
 * authrail's own CPU per request, without the network: each client with a transport that
 * answers at once, bare vs through authrail, in paired rounds. Free of I/O noise, it is
 * the cost authrail adds to every request; set beside the bare client's CPU per real
 * request it gives the overhead ratio the I/O noise of a shared machine hides.
 */
async function addedCpu(
  origin: string,
  strategy: TokenAuthStrategy,
  options: OverheadOptions,
): Promise<Measured[]> {
  const url = `${origin}/fhir/Patient`;
  // A fetch that does what fetch does with its arguments before the wire (builds a Request:
  // URL, headers, signal), then answers at once: what authrail hands it is paid for here.
  const answer = (input: RequestInfo | URL, init?: RequestInit) => {
    new Request(input, init);
    return Promise.resolve(new Response('{"resourceType":"Bundle"}', { status: 200 }));
  };
  const cannedAdapter = (config: InternalAxiosRequestConfig) =>
    Promise.resolve({ data: '{}', status: 200, statusText: 'OK', headers: {}, config, request: {} });
  const authFetch = createAuthFetch(strategy, { fetch: answer });
  const bareKy = ky.create({ fetch: answer, retry: 0, headers: { authorization: STATIC } });
  const authKy = createAuthKy(strategy, { ky, fetch: answer, retry: 0 });
  const bareAxios = axios.create({ adapter: cannedAdapter, headers: { authorization: STATIC } });
  const authAxios = axios.create({ adapter: cannedAdapter });
  attachAuth(authAxios, strategy);
  const pairs: [string, Variant[]][] = [
    [
      'fetch',
      [
        {
          name: 'fetch (answers at once)',
          send: () => answer(url, { headers: { authorization: STATIC } }).then((r) => r.text()),
        },
        { name: '@authrail/fetch (answers at once)', send: () => authFetch(url).then((r) => r.text()) },
      ],
    ],
    [
      'ky',
      [
        { name: 'ky 2 (answers at once)', send: () => bareKy.get(url).text() },
        { name: '@authrail/ky (answers at once)', send: () => authKy.get(url).text() },
      ],
    ],
    [
      'axios',
      [
        { name: 'axios (answers at once)', send: () => bareAxios.get(url) },
        { name: '@authrail/axios (answers at once)', send: () => authAxios.get(url) },
      ],
    ],
  ];
  const out: Measured[] = [];
  for (const [, variants] of pairs) {
    out.push(
      ...(await compare(variants, {
        rounds: options.rounds,
        perRound: options.perRound * 4,
        warmup: options.warmup,
        concurrency: 1,
      })),
    );
  }
  return out;
}

type Family = { family: string; variants: (Variant & { peer?: true })[] };

/**
 * Workload 1's undici rows. `undici.request` over one Agent: bare, through @authrail/undici
 * composed over that same Agent (one pool, the same sockets), and the peer interceptor with
 * a cached token. Node's fetch over an Agent (what an SDK calling fetch gets once the
 * interceptor is the global dispatcher): bare, through the interceptor composed over it, and
 * through @authrail/fetch over it.
 */
function undiciFamilies(
  url: string,
  origin: string,
  strategy: TokenAuthStrategy,
): { families: Family[]; close(): Promise<void> } {
  const undiciAgent = new Agent();
  const fetchAgent = new Agent();
  const authrailAgent = undiciAgent.compose(authrail({ [origin]: strategy }));
  const oidcBase = new Agent();
  const oidcAgent = oidcBase.compose(
    createOidcInterceptor({
      idpTokenUrl: 'https://auth.example.org/token',
      clientId: 'bench',
      clientSecret: 'bench-secret',
      accessToken: JWT,
      urls: [origin],
    }),
  );
  type AnyDispatcher = Agent | ReturnType<Agent['compose']>;
  const undiciGet = async (dispatcher: AnyDispatcher, headers?: Record<string, string>) => {
    const response = await undiciRequest(url, { dispatcher, ...(headers ? { headers } : {}) });
    return response.body.text();
  };
  const fetchAuthrailAgent = fetchAgent.compose(authrail({ [origin]: strategy }));
  const fetchOver = (dispatcher: AnyDispatcher, headers?: Record<string, string>) =>
    fetch(url, { dispatcher, ...(headers ? { headers } : {}) } as RequestInit).then((r) => r.text());
  const authFetchOverAgent = createAuthFetch(strategy, {
    fetch: (input, init) => fetch(input, { ...init, dispatcher: fetchAgent } as RequestInit),
  });
  return {
    families: [
      {
        family: 'undici',
        variants: [
          {
            name: 'bare undici request + static header',
            send: () => undiciGet(undiciAgent, { authorization: STATIC }),
          },
          { name: '@authrail/undici, undici request', send: () => undiciGet(authrailAgent) },
          { name: 'undici-oidc-interceptor', peer: true, send: () => undiciGet(oidcAgent) },
        ],
      },
      {
        family: 'fetch over an undici Agent',
        variants: [
          {
            name: 'bare fetch over an undici Agent + static header',
            send: () => fetchOver(fetchAgent, { authorization: STATIC }),
          },
          { name: '@authrail/undici, fetch over the same Agent', send: () => fetchOver(fetchAuthrailAgent) },
          {
            name: '@authrail/fetch over the same Agent',
            send: () => authFetchOverAgent(url).then((r) => r.text()),
          },
        ],
      },
    ],
    close: async () => void (await Promise.all([undiciAgent, fetchAgent, oidcBase].map((a) => a.close()))),
  };
}

export interface OverheadReport {
  node: string;
  concurrency: number;
  families: { family: string; results: Measured[] }[];
}

export interface OverheadOptions {
  rounds: number;
  perRound: number;
  warmup: number;
  concurrencies: number[];
  microCalls: number;
  /** Whether the peer libraries run too; without them the same time buys more rounds. */
  peers: boolean;
}

export const FULL: OverheadOptions = {
  rounds: 80,
  perRound: 250,
  warmup: 2_000,
  concurrencies: [1, 64],
  microCalls: 300_000,
  peers: true,
};
/**
 * `--long`: authrail, the bare clients, the noise floor and the references only, in five
 * times the rounds: each median's confidence interval about √5 narrower (~1 % on a 2-core
 * VM), for a figure close to its target. About 20 minutes.
 */
export const LONG: OverheadOptions = { ...FULL, rounds: 400, peers: false };
export const QUICK: OverheadOptions = {
  rounds: 2,
  perRound: 50,
  warmup: 20,
  concurrencies: [1, 8],
  microCalls: 2_000,
  peers: true,
};

export interface OverheadResult {
  /** Rounds per ratio. */
  rounds: number;
  reports: OverheadReport[];
  micro: Record<string, number>;
  /** Bare and authrail per client with a transport that answers at once (no network). */
  added: Measured[];
}

export async function runOverhead(options: OverheadOptions): Promise<OverheadResult> {
  const server = await startServer();
  const url = `${server.url}/fhir/Patient`;
  const strategy = strategyFor(server.url);
  const undici = undiciFamilies(url, server.url, strategy);
  try {
    await strategy.tokens.getToken(); // cached from here on

    const authFetch = createAuthFetch(strategy);
    const allowedPrefix = `${server.url}/`;
    const leastWrapper = (input: string) => {
      const parsed = new URL(input);
      const headers: Record<string, string> = {};
      if (parsed.href.startsWith(allowedPrefix)) headers.authorization = STATIC;
      return fetch(parsed, { headers });
    };
    type LeastHop = AuthResponse & { response: Response };
    const leastLoop = async (
      request: { url: URL },
      next: (out: { url: URL; headers: Record<string, string> }) => Promise<LeastHop>,
    ) => {
      const headers: Record<string, string> = {};
      if (request.url.href.startsWith(allowedPrefix)) headers.authorization = STATIC;
      const answer = await next({ url: request.url, headers });
      if (answer.status === 401) await answer.discard();
      return answer;
    };
    const leastAdapter = async (input: string) => {
      const hop = await leastLoop({ url: new URL(input) }, (out) =>
        fetch(out.url, { headers: out.headers }).then((response): LeastHop => ({
          response,
          status: response.status,
          headers: response.headers,
          discard: () => response.body?.cancel(),
        })),
      );
      return hop.response;
    };
    const badgateway = new OAuth2Fetch({
      client: new OAuth2Client({ server: 'https://auth.example.org/', clientId: 'bench' }),
      getNewToken: () => ({ accessToken: TOKEN, refreshToken: null, expiresAt: Date.now() + 24 * 3600_000 }),
      scheduleRefresh: false,
    });
    const authKy = createAuthKy(strategy, { ky, retry: 0 });
    const bareKy = ky.create({ retry: 0, headers: { authorization: STATIC } });
    const bareAxios = axios.create({ headers: { authorization: STATIC } });
    const authAxios = axios.create();
    attachAuth(authAxios, strategy);
    const refreshAxios = axios.create();
    refreshAxios.interceptors.request.use((config) => {
      config.headers.Authorization = STATIC; // the peer's documented pattern: the user sets the token
      return config;
    });
    createAuthRefreshInterceptor(refreshAxios as never, () => Promise.resolve());
    // fetch-extras: the user keeps the token and sets the header; the wrapper refreshes on a 401.
    const refreshFetch = withTokenRefresh({ refreshToken: () => Promise.resolve(TOKEN) })(fetch);
    // ky's documented refresh hook: a header from the user's variable, retry on 401.
    const hookedKy = ky.create({
      retry: { statusCodes: [401] },
      hooks: {
        beforeRequest: [({ request }) => void request.headers.set('Authorization', STATIC)],
        beforeRetry: [({ request }) => void request.headers.set('Authorization', STATIC)],
      },
    });
    const families: Family[] = [
      {
        family: 'fetch',
        variants: [
          {
            name: 'bare fetch + static header',
            send: () => fetch(url, { headers: { authorization: STATIC } }).then((r) => r.text()),
          },
          {
            // The same client against itself: the noise floor of this run. Read every other
            // ratio against how far this one lands from 1.
            name: 'bare fetch again (noise floor: the same client)',
            send: () => fetch(url, { headers: { authorization: STATIC } }).then((r) => r.text()),
          },
          {
            // What any wrapper that keeps credentials to allowed origins must do per request,
            // and nothing else: how close to 1.000 a wrapper of fetch can get in this run.
            name: REFERENCE_WRAPPER,
            send: () => leastWrapper(url).then((r) => r.text()),
          },
          { name: REFERENCE_LAYERS, send: () => leastAdapter(url).then((r) => r.text()) },
          { name: '@authrail/fetch', send: () => authFetch(url).then((r) => r.text()) },
          {
            name: '@badgateway/oauth2-client OAuth2Fetch',
            peer: true,
            send: () => badgateway.fetch(url).then((r) => r.text()),
          },
          {
            name: 'fetch-extras withTokenRefresh',
            peer: true,
            send: () => refreshFetch(url, { headers: { authorization: STATIC } }).then((r) => r.text()),
          },
        ],
      },
      {
        family: 'ky',
        variants: [
          { name: 'bare ky 2 + static header', send: () => bareKy.get(url).text() },
          { name: '@authrail/ky', send: () => authKy.get(url).text() },
          { name: 'ky docs’ refresh hook', peer: true, send: () => hookedKy.get(url).text() },
        ],
      },
      {
        family: 'axios',
        variants: [
          { name: 'bare axios + static header', send: () => bareAxios.get(url) },
          { name: '@authrail/axios', send: () => authAxios.get(url) },
          { name: 'axios-auth-refresh', peer: true, send: () => refreshAxios.get(url) },
        ],
      },
    ];

    const reports = options.concurrencies.map((concurrency): OverheadReport => ({
      node: process.version,
      concurrency,
      families: [],
    }));
    const measure = async (list: Family[]) => {
      for (const report of reports) {
        for (const { family, variants } of list) {
          const measured = options.peers ? variants : variants.filter((v) => !v.peer);
          if (measured.length < 2) continue; // a bare client with nothing to compare
          const results = await compare(measured, { ...options, concurrency: report.concurrency });
          report.families.push({ family, results });
        }
      }
    };
    await measure(families);

    // Core alone: the loop with a transport that answers at once, and the credential step.
    const request = {
      method: 'GET',
      url: new URL(url),
      headers: new Headers({ accept: 'application/json' }),
    };
    const answered: AuthResponse = { status: 200, headers: new Headers(), discard() {} };
    const noop = () => Promise.resolve(answered);
    const credential = bearer();
    // The credential step on the request core gives a hop (its own headers), as the loop runs it.
    let hop: AuthRequest | undefined;
    await strategy.send(request, (out) => {
      hop = out;
      return Promise.resolve(answered);
    });
    const native = new Headers();
    // As core's loop calls it with a cached token: the token at once, no promise.
    const cached = await strategy.tokens.getToken();
    const context = { signal: undefined, token: () => cached, dpop: undefined };
    const micro = {
      'send() with a transport that answers at once (ns)': await perCall(
        () => strategy.send(request, noop),
        options.microCalls,
      ),
      'credential step: cached token + Authorization set (ns)': await perCall(
        () => credential(hop!, context),
        options.microCalls,
      ),
      "fetch's Headers.set alone, for scale (ns)": await perCall(
        () => native.set('authorization', STATIC),
        options.microCalls,
      ),
      ...(await dpopCost(url, request, noop, Math.max(200, Math.round(options.microCalls / 50)))),
    };
    const added = await addedCpu(server.url, strategy, options);
    // Last: @authrail/undici's first request enables its AsyncLocalStorage, which on Node 20
    // adds work to every async operation of the process from then on. Everything above is
    // measured before it; its own rows (bare undici and fetch included) run with it on.
    await measure(undici.families);
    return { rounds: options.rounds, reports, micro, added };
  } finally {
    await undici.close();
    server.stop();
  }
}

/**
 * What DPoP costs per request, with a transport that answers at once: one proof alone
 * (an ES256 signature through openid-client's handle, as core makes it per hop), and
 * core's loop with a DPoP token beside the same loop with a bearer token.
 */
async function dpopCost(
  url: string,
  request: { method: string; url: URL; headers: Headers },
  noop: () => Promise<AuthResponse>,
  calls: number,
): Promise<Record<string, number>> {
  const prover = clientCredentials({
    server: { issuer: new URL(url).origin, tokenEndpoint: `${new URL(url).origin}/token` },
    clientId: 'bench',
    clientAuth: clientSecretPost('bench-secret'),
    dpop: true,
  }).dpop!;
  const tokenOf = (tokenType: string): TokenSource => ({
    identity: { tokenEndpoint: `${url}/token`, clientId: `bench-${tokenType}` },
    fetchToken: () =>
      Promise.resolve(createToken({ accessToken: 'bench-token-0123456789', tokenType, expiresIn: 3600 })),
    ...(tokenType === 'DPoP' ? { dpop: prover } : {}),
  });
  const origins = [new URL(url).origin];
  const dpop = createAuthStrategy({ source: tokenOf('DPoP'), origins });
  const bearerOnly = createAuthStrategy({ source: tokenOf('Bearer'), origins });
  await Promise.all([dpop.tokens.getToken(), bearerOnly.tokens.getToken()]);
  const headers = new Headers();
  return {
    'DPoP: one proof, ES256 (ns)': await perCall(
      () => prover.addProof(request.url, headers, 'GET', 'bench-token-0123456789'),
      calls,
    ),
    'DPoP: send() answering at once with a DPoP token (ns)': await perCall(
      () => dpop.send(request, noop),
      calls,
    ),
    'DPoP: the same with a bearer token, for the ratio (ns)': await perCall(
      () => bearerOnly.send(request, noop),
      calls,
    ),
  };
}

export function toMarkdown(result: OverheadResult): string {
  const lines = [
    `# Overhead per request (${result.reports[0]?.node ?? process.version})`,
    '',
    // What users run: the built packages. Run from sources through tsx, every closure gets
    // esbuild's __name wrapper, which bare clients from node_modules do not pay.
    `authrail measured from ${import.meta.resolve('@authrail/core').includes('/src/') ? 'sources (through tsx: slower than what ships)' : 'its built packages (dist), as installed'}.`,
    '',
    `Each ratio is to the bare client in the same rounds (${result.rounds} rounds). "Bare fetch again" is the bare client against itself: how far it lands from 1.000 is the noise of this run. The 95 % confidence interval [low–high] of each median says what the run resolved: a target inside it is neither met nor missed by this run. The first reference row is the least a wrapper that keeps a credential to allowed origins does (parse the URL, check its origin, set the header); the second does the same in the three promise layers of \`AuthStrategy.send\` (adapter, loop, transport), the least any adapter of the contract costs.`,
    '',
  ];
  for (const report of result.reports) {
    lines.push(`## Concurrency ${report.concurrency}`, '');
    lines.push(
      '| client | wall µs/req | CPU µs/req | wall ratio: median [95 % CI] (min–max) | CPU ratio: median [95 % CI] (min–max) |',
    );
    lines.push('| --- | ---: | ---: | --- | --- |');
    for (const { results } of report.families) {
      for (const r of results) {
        lines.push(
          `| ${r.name} | ${r.median.wallUs.toFixed(1)} | ${r.median.cpuUs.toFixed(1)} | ${formatRatio(r.wallRatio)} | ${formatRatio(r.cpuRatio)} |`,
        );
      }
    }
    lines.push('');
  }
  lines.push('## Core alone', '', '| what | ns per call |', '| --- | ---: |');
  for (const [what, ns] of Object.entries(result.micro)) lines.push(`| ${what} | ${ns.toFixed(0)} |`);
  // authrail's own CPU per request, and what it is of a real request of the bare client.
  const realCpu = new Map(
    (result.reports[0]?.families ?? []).map(({ family, results }) => [family, results[0]?.median.cpuUs ?? 0]),
  );
  lines.push(
    '',
    '## authrail’s own CPU per request (a transport that answers at once: no network noise)',
    '',
    '| client | bare CPU µs/req | through authrail CPU µs/req | added µs/req | added / a real bare request (concurrency 1) |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (let i = 0; i + 1 < result.added.length; i += 2) {
    const bare = result.added[i]!;
    const auth = result.added[i + 1]!;
    const added = auth.median.cpuUs - bare.median.cpuUs;
    const family = ['fetch', 'ky', 'axios'][i / 2]!;
    const real = realCpu.get(family) ?? 0;
    lines.push(
      `| ${family} | ${bare.median.cpuUs.toFixed(1)} | ${auth.median.cpuUs.toFixed(1)} | ${added.toFixed(1)} | ${real ? `${((added / real) * 100).toFixed(1)} % (of ${real.toFixed(0)} µs)` : '—'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const long = process.argv.includes('--long');
  const result = await runOverhead(quick ? QUICK : long ? LONG : FULL);
  // A long run's report is kept in the repository: the resolved figures behind the README's.
  report(long ? 'overhead-long' : 'overhead', toMarkdown(result), result, quick);
}
