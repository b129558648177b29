// The fault matrix's rows: every token endpoint fault the sandbox can play, and what a
// client must end in. Shared by the child process that runs the cells and the test that
// judges them.
import type { Fault } from '@authrail/sandbox';

/** A typed outcome: `token` (the request went through) or an authrail error code. */
type Outcome =
  | 'token'
  | 'AUTHRAIL_TOKEN_ENDPOINT_ERROR'
  | 'AUTHRAIL_TOKEN_RESPONSE_INVALID'
  | 'AUTHRAIL_TOKEN_ENDPOINT_UNREACHABLE'
  | 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT'
  | 'AUTHRAIL_NOT_AUTHENTICATED'
  /** The API's own answer reached the caller (fetch resolves with it; ky and axios throw their HTTP error). */
  | 'HTTP 401';

export interface MatrixFault {
  name: string;
  fault: Fault;
  /** Where the fault is played: the token endpoint (default) or the API. */
  at?: 'token' | 'api';
  /** How many token requests it applies to; default all. */
  times?: number;
  /** What every client must end in, and after how many token requests (3 attempts allowed). */
  expect: { outcome: Outcome; requests: number };
  /**
   * For the refresh grant of a user flow: a refused refresh token (4xx) ends the session
   * (`NOT_AUTHENTICATED`, sign in again) instead.
   */
  refresh?: { outcome: Outcome; requests: number };
  /** What a provider that knows this fault's vendor does instead (Okta reads its own headers). */
  vendor?: Partial<Record<'okta', { outcome: Outcome; requests: number }>>;
}

const TOO_LONG = 120; // seconds: longer than retry.maxRetryAfterMs, so not waited for

export const MATRIX_FAULTS: readonly MatrixFault[] = [
  {
    name: '503 once',
    fault: { type: 'status', status: 503 },
    times: 1,
    expect: { outcome: 'token', requests: 2 },
  },
  {
    name: '5xx burst (502 twice)',
    fault: { type: 'status', status: 502 },
    times: 2,
    expect: { outcome: 'token', requests: 3 },
  },
  {
    name: 'always 500',
    fault: { type: 'status', status: 500 },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 3 },
  },
  {
    name: '429, Retry-After: 0, once',
    fault: { type: 'rate-limit', retryAfterSeconds: 0 },
    times: 1,
    expect: { outcome: 'token', requests: 2 },
  },
  {
    name: '429, Retry-After: 120 (seconds)',
    fault: { type: 'rate-limit', retryAfterSeconds: TOO_LONG },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 1 },
  },
  {
    name: '429, Retry-After as an HTTP date',
    fault: { type: 'rate-limit', retryAfterSeconds: TOO_LONG, form: 'date' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 1 },
  },
  {
    name: '429, X-Rate-Limit-Reset only (Okta)',
    fault: { type: 'rate-limit', retryAfterSeconds: TOO_LONG, form: 'okta-reset' },
    // A 429 with no Retry-After is retried (with backoff); only the Okta preset reads Okta's header.
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 3 },
    vendor: { okta: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 1 } },
  },
  { name: 'slow (100 ms)', fault: { type: 'delay', ms: 100 }, expect: { outcome: 'token', requests: 1 } },
  { name: 'hanging once', fault: { type: 'hang' }, times: 1, expect: { outcome: 'token', requests: 2 } },
  {
    name: 'always hanging',
    fault: { type: 'hang' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT', requests: 3 },
  },
  {
    name: 'connection reset once',
    fault: { type: 'reset' },
    times: 1,
    expect: { outcome: 'token', requests: 2 },
  },
  {
    name: 'always reset',
    fault: { type: 'reset' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_UNREACHABLE', requests: 3 },
  },
  {
    name: 'HTML error page (502)',
    fault: { type: 'html' },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 3 },
  },
  {
    name: 'malformed JSON',
    fault: { type: 'malformed-json' },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'no access_token',
    fault: { type: 'missing-access-token' },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'no expires_in',
    fault: { type: 'token-response', fields: { expires_in: null } },
    expect: { outcome: 'token', requests: 1 },
  },
  {
    name: 'expires_in: 0 (no lifetime given)',
    fault: { type: 'token-response', fields: { expires_in: 0 } },
    expect: { outcome: 'token', requests: 1 },
  },
  {
    // Read as a number (as oauth4webapi and Go's oauth2 do): servers that quote it are common.
    name: 'expires_in: "3600" (a string)',
    fault: { type: 'token-response', fields: { expires_in: '3600' } },
    expect: { outcome: 'token', requests: 1 },
  },
  {
    name: 'expires_in: -5',
    fault: { type: 'token-response', fields: { expires_in: -5 } },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'expires_in: 1e14',
    fault: { type: 'token-response', fields: { expires_in: 1e14 } },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'token_type: DPoP',
    fault: { type: 'token-response', fields: { token_type: 'DPoP' } },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'access_token with NUL',
    fault: { type: 'token-response', fields: { access_token: 'abc\u0000def' } },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'access_token not ASCII',
    fault: { type: 'token-response', fields: { access_token: 'tökén' } },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: '50 MB body',
    fault: { type: 'huge-body', bytes: 50_000_000 },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'gzip bomb (100 MB)',
    fault: { type: 'gzip-bomb', bytes: 100_000_000 },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'endless body',
    fault: { type: 'endless-body' },
    expect: { outcome: 'AUTHRAIL_TOKEN_RESPONSE_INVALID', requests: 1 },
  },
  {
    name: 'gzip body that stalls',
    fault: { type: 'stalled-gzip' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_TIMEOUT', requests: 3 },
  },
  {
    name: "Okta's errorCode shape (400)",
    fault: { type: 'okta-error', status: 400, errorCode: 'E0000021', errorSummary: 'Bad request.' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 1 },
    // The refresh token was refused: the manager drops it and the session ends.
    refresh: { outcome: 'AUTHRAIL_NOT_AUTHENTICATED', requests: 1 },
  },
  {
    name: 'invalid_client echoing the credentials',
    fault: { type: 'echo-credentials' },
    expect: { outcome: 'AUTHRAIL_TOKEN_ENDPOINT_ERROR', requests: 1 },
    refresh: { outcome: 'AUTHRAIL_NOT_AUTHENTICATED', requests: 1 },
  },
  {
    // Not the token endpoint: the API rejects a good token, and the fresh one too.
    name: 'API answers 401 twice',
    fault: { type: 'unauthorized' },
    at: 'api',
    times: 2,
    expect: { outcome: 'HTTP 401', requests: 2 },
  },
];

/** The providers, as a user configures them. */
export const MATRIX_PROVIDERS = ['msk-apim', 'okta', 'medblocks', 'medblocks-refresh'] as const;
export type MatrixProvider = (typeof MATRIX_PROVIDERS)[number];

/** The HTTP clients, each through its adapter. */
export const MATRIX_ADAPTERS = ['fetch', 'ky 1', 'ky 2', 'axios'] as const;
export type MatrixAdapter = (typeof MATRIX_ADAPTERS)[number];

/** One cell's result, as the child process reports it. */
export interface CellResult {
  fault: string;
  provider: MatrixProvider;
  adapter: MatrixAdapter;
  outcome: Outcome | `untyped: ${string}` | 'hung';
  tokenRequests: number;
  ms: number;
}

/** What a child process reports when it is done. */
export interface ChildReport {
  cells: CellResult[];
  unhandledRejections: string[];
  /** Events, log lines and errors captured (each rendered as message, stack, causes, JSON and inspect). */
  captures: number;
  /** Secrets (by kind) found in a capture: must be none. */
  leaks: string[];
}
