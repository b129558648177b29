// One process of the fault matrix: runs every fault × provider cell through the adapters
// named on the command line, against its own sandbox, then closes the sandbox and prints
// its report. It never calls process.exit: the parent checks that it ends by itself (no
// timer, socket or listener of ours keeps it alive).
import axios from 'axios';
import ky from 'ky';
import ky1 from 'ky1';
import { inspect } from 'node:util';
import { createToken, isAuthrailError, type AuthStrategy, type Token } from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { medblocksAuthorizationCode, medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim } from '@authrail/msk-apim';
import { createMemoryStorage } from '@authrail/oauth2';
import { oktaClientCredentials } from '@authrail/okta';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import {
  MATRIX_FAULTS,
  MATRIX_PROVIDERS,
  type CellResult,
  type ChildReport,
  type MatrixAdapter,
  type MatrixFault,
  type MatrixProvider,
} from './faults.js';

/** Each attempt's deadline: long enough for a loaded CI machine, short enough to keep hangs cheap. */
const retry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 600 };
/** A cell that takes this long has hung: nothing in it should take a tenth of it. */
const HUNG_MS = 20_000;

const unhandledRejections: string[] = [];
process.on('unhandledRejection', (reason) => {
  unhandledRejections.push(reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));
});

// Secret hygiene: every event, log line and error of every cell is rendered every way a
// user might see it, and searched for every secret the run handled, in every encoding.
const rendered: string[] = [];
const capture = (value: unknown) => rendered.push(...renderings(value));
const on = {
  tokenFetched: capture,
  tokenRefreshed: capture,
  retry: capture,
  error: capture,
  rejected: capture,
  uncredentialed: capture,
};
const logger = { debug: capture, info: capture, warn: capture, error: capture };

/** How a value is seen: its message and stack, each cause's, JSON, and inspect (hidden fields too). */
function renderings(value: unknown): string[] {
  const out: string[] = [];
  let current: unknown = value;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof Error) out.push(current.message, current.stack ?? '');
    current = (current as { cause?: unknown }).cause;
  }
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // circular (an AxiosError's request): inspect below shows it
  }
  out.push(typeof value === 'string' ? value : inspect(value, { depth: 6, showHidden: true }));
  return out;
}

/** Every form a secret travels in: raw, URL- and form-encoded, JSON-escaped, and inside a Basic credential. */
function encodings(secret: string, clientId?: string): string[] {
  const forms = new Set([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ]);
  forms.add(JSON.stringify(secret).slice(1, -1));
  if (clientId !== undefined) {
    const form = (v: string) => new URLSearchParams({ v }).toString().slice(2);
    forms.add(btoa(`${clientId}:${secret}`));
    forms.add(btoa(`${form(clientId)}:${form(secret)}`));
  }
  return [...forms];
}

/** Secrets this run handled: the client secrets, and every token, code and verifier the sandbox saw. */
function secretsSeen(sb: Sandbox): Map<string, string> {
  const found = new Map<string, string>();
  const add = (kind: string, value: string | undefined, clientId?: string) => {
    if (value && value.length >= 8) for (const form of encodings(value, clientId)) found.set(form, kind);
  };
  for (const client of [demoClients.mskApim, demoClients.okta, demoClients.medblocksBackend])
    add('client secret', client.clientSecret, client.clientId);
  for (const r of sb.requests) {
    const auth = r.headers.authorization ?? '';
    if (/^bearer /i.test(auth)) add('access token', auth.slice(7));
    if (/^basic /i.test(auth)) add('Basic credential', auth.slice(6));
    const params = new URLSearchParams(r.body.toString('utf8'));
    add('refresh token', params.get('refresh_token') ?? undefined);
    add('authorization code', params.get('code') ?? undefined);
    add('code verifier', params.get('code_verifier') ?? undefined);
  }
  for (const token of held) {
    add('access token', token.accessToken);
    add('refresh token', token.refreshToken);
  }
  return found;
}
const held: Token[] = [];
const leaks = new Set<string>();

/** Searches what was rendered since the last check for any secret seen; clears it. */
function checkHygiene(sb: Sandbox, where: string): void {
  const secrets = secretsSeen(sb);
  for (const text of rendered)
    for (const [secret, kind] of secrets) if (text.includes(secret)) leaks.add(`${where}: a ${kind}`);
  captures += rendered.length;
  rendered.length = 0;
}
let captures = 0;

/** Plays the browser on the sandbox's sign-in page; returns the redirect back. */
async function signIn(authorizeUrl: URL): Promise<string> {
  const form = new URLSearchParams(authorizeUrl.searchParams);
  form.set('username', demoClients.user.username);
  form.set('password', demoClients.user.password);
  form.set('decision', 'allow');
  const back = await fetch(authorizeUrl.origin + authorizeUrl.pathname, {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  await back.body?.cancel();
  return back.headers.get('location') ?? '';
}

/** The provider's strategy and the API URL its users call. */
async function provider(sb: Sandbox, name: MatrixProvider): Promise<{ strategy: AuthStrategy; url: string }> {
  switch (name) {
    case 'msk-apim':
      return {
        strategy: mskApim({
          baseUrl: sb.urls.mskApim.baseUrl,
          clientId: demoClients.mskApim.clientId,
          clientSecret: demoClients.mskApim.clientSecret,
          researchStudy: '17-001',
          retry,
          on,
          logger,
        }),
        url: `${sb.urls.mskApim.fhirBaseUrl}/Patient`,
      };
    case 'okta':
      return {
        strategy: oktaClientCredentials({
          issuer: sb.urls.okta.issuer,
          clientId: demoClients.okta.clientId,
          clientSecret: demoClients.okta.clientSecret,
          scope: 'ctrp.read',
          origins: [sb.url],
          retry,
          on,
          logger,
        }),
        url: `${sb.urls.ctrp.baseUrl}/accrual-services/trials/nci/NCI-2024-00001/sites/po/123`,
      };
    case 'medblocks':
      return {
        strategy: medblocksClientCredentials({
          baseUrl: sb.urls.medblocks.baseUrl,
          ...demoClients.medblocksBackend,
          retry,
          on,
          logger,
        }),
        url: `${sb.urls.medblocks.fhirBaseUrl}/Patient`,
      };
    case 'medblocks-refresh': {
      // Signed in for real, then the access token expires: the next request refreshes.
      const auth = medblocksAuthorizationCode({
        baseUrl: sb.urls.medblocks.baseUrl,
        clientId: demoClients.medblocksSpa.clientId,
        redirectUri: 'http://127.0.0.1:5173/callback',
        storage: createMemoryStorage(),
        retry,
        on,
        logger,
      });
      await auth.handleRedirect(await signIn(await auth.authorizationUrl()));
      const token = (await auth.tokens.peek())!;
      held.push(token);
      await auth.tokens.setToken(
        createToken({
          accessToken: token.accessToken,
          refreshToken: token.refreshToken!,
          expiresAt: Date.now() - 1,
        }),
      );
      return { strategy: auth, url: `${sb.urls.medblocks.fhirBaseUrl}/Patient` };
    }
  }
}

/** Sends one GET through the adapter; resolves with the status, rejects with what the client threw. */
function client(adapter: MatrixAdapter, strategy: AuthStrategy): (url: string) => Promise<number> {
  switch (adapter) {
    case 'fetch': {
      const api = createAuthFetch(strategy);
      return async (url) => {
        const response = await api(url);
        await response.body?.cancel();
        return response.status;
      };
    }
    case 'ky 1': {
      const api = createAuthKy(strategy, { ky: ky1 });
      return async (url) => (await api.get(url)).status;
    }
    case 'ky 2': {
      const api = createAuthKy(strategy, { ky });
      return async (url) => (await api.get(url)).status;
    }
    case 'axios': {
      const api = axios.create();
      attachAuth(api, strategy);
      return async (url) => (await api.get(url, { responseType: 'text' })).status;
    }
  }
}

function outcomeOf(error: unknown): CellResult['outcome'] {
  capture(error);
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const typed = isAuthrailError(error) ? error : isAuthrailError(cause) ? cause : undefined;
  if (typed) return typed.code as CellResult['outcome'];
  // ky's HTTPError and axios' AxiosError: the API's own answer.
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === 'number') return `HTTP ${status}` as CellResult['outcome'];
  const e = error as { name?: string; message?: string } | undefined;
  return `untyped: ${e?.name ?? typeof error}: ${e?.message ?? String(error)}`;
}

async function cell(
  sb: Sandbox,
  fault: MatrixFault,
  name: MatrixProvider,
  adapter: MatrixAdapter,
): Promise<CellResult> {
  sb.reset();
  const { strategy, url } = await provider(sb, name);
  const before = sb.tokenRequests().length;
  const route = fault.at === 'api' ? API_ROUTE[name] : TOKEN_ROUTE[name];
  sb.inject(route, fault.fault, fault.times === undefined ? {} : { times: fault.times });
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HUNG_MS)));
  const outcome = await Promise.race([
    client(
      adapter,
      strategy,
    )(url).then(
      (status): CellResult['outcome'] =>
        status === 200 ? 'token' : (`HTTP ${status}` as CellResult['outcome']),
      outcomeOf,
    ),
    hung,
  ]);
  clearTimeout(timer);
  const ms = Math.round(performance.now() - started);
  sb.clearFaults();
  const token = await (strategy as { tokens?: { peek(): Promise<Token | undefined> } }).tokens?.peek();
  if (token) held.push(token);
  checkHygiene(sb, `${fault.name}, ${name}, ${adapter}`);
  held.length = 0;
  return {
    fault: fault.name,
    provider: name,
    adapter,
    outcome,
    tokenRequests: sb.tokenRequests().length - before,
    ms,
  };
}

const API_ROUTE = {
  'msk-apim': 'msk-fhir',
  okta: 'ctrp-accrual',
  medblocks: 'medblocks-fhir',
  'medblocks-refresh': 'medblocks-fhir',
} as const;

const TOKEN_ROUTE = {
  'msk-apim': 'msk-token',
  okta: 'okta-token',
  medblocks: 'medblocks-token',
  'medblocks-refresh': 'medblocks-token',
} as const;

const adapters = process.argv.slice(2) as MatrixAdapter[];
const sb = await startSandbox();
const cells: CellResult[] = [];
try {
  for (const adapter of adapters)
    for (const name of MATRIX_PROVIDERS)
      for (const fault of MATRIX_FAULTS) cells.push(await cell(sb, fault, name, adapter));
} finally {
  await sb.close();
}
const report: ChildReport = { cells, unhandledRejections, captures, leaks: [...leaks] };
process.stdout.write(`${JSON.stringify(report)}\n`);
// If anything still holds the process, say what (this timer itself does not hold it).
setTimeout(
  () => process.stderr.write(`still alive: ${JSON.stringify(process.getActiveResourcesInfo())}\n`),
  3_000,
).unref();
