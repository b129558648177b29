import * as client from 'openid-client';
import {
  ConfigError,
  ErrorCodes,
  TokenEndpointError,
  checkOptions,
  isTokenEndpointError,
  type TokenSource,
} from '@authrail/core';
import { none, type ClientAuthentication } from './client-auth.js';
import {
  CLIENT_GRANT_KEYS,
  checkClientGrant,
  identityOf,
  requestParameters,
  requestToken,
  type ClientGrant,
} from './client-grant.js';
import { abortedBy, type MapError } from './errors.js';
import { runGrant, tokenFrom, type GrantOptions } from './grant.js';
import type { ServerOptions } from './server.js';

/**
 * What the user is shown to sign in with the device authorization grant: where to go and
 * the code to enter there. Never the device code, which only the client may hold.
 */
export interface DevicePrompt {
  /** The page where the user enters the code (`verification_uri`). */
  verificationUri: string;
  /** The same page with the code filled in (`verification_uri_complete`), when the server gives one: for a link or a QR code. */
  verificationUriComplete?: string;
  /** The code the user enters (`user_code`), e.g. `WDJB-MJHT`. */
  userCode: string;
  /** When the code expires, epoch ms: after this the sign-in fails with `expired_token`. */
  expiresAt: number;
}

/** Options of {@link deviceAuthorization}. */
export interface DeviceAuthorizationOptions extends GrantOptions {
  /**
   * The authorization server: discovered (its metadata gives `device_authorization_endpoint`),
   * or its endpoints given directly with `deviceAuthorizationEndpoint`.
   */
  server: ServerOptions;
  /** The OAuth client id. */
  clientId: string;
  /** How the client authenticates. Default `none()`: a script or CLI is a public client. */
  clientAuth?: ClientAuthentication;
  /** Requested scope, space separated. Ask for `offline_access` where the server needs it for a refresh token. */
  scope?: string;
  /** RFC 8707 resource indicator(s): absolute URIs without a fragment. */
  resource?: string | readonly string[];
  /** Extra device authorization request parameters (e.g. `audience`). Part of the store key. */
  parameters?: Readonly<Record<string, string>>;
  /**
   * Whose tokens these are: an id of the person signing in (their login name, a profile
   * name). Part of the token store key, so people sharing a store never get each other's
   * tokens; required when you pass a `store` that is not marked `oneUser`.
   */
  session?: string;
  /**
   * Shows the user where to sign in. Default: one line on `process.stderr` with the URL
   * and the code (required where there is no `process.stderr`: a browser, a worker).
   * Polling starts when it returns; an error it throws ends the sign-in.
   */
  onPrompt?: (prompt: DevicePrompt) => void | Promise<void>;
  /** For presets: the vendor's errors, mapped from core's typed error and its response. Default: as they are. */
  mapError?: MapError;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.5: the wait between polls when the server names none. */
const DEFAULT_INTERVAL_S = 5;

/** RFC 8628 §3.5: what `slow_down` adds to the wait, for this and every later poll. */
const SLOW_DOWN_MS = 5_000;

/** Each request of a sign-in (the authorization request, one poll) ends after this long. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Control characters (a terminal's escape sequences) a server's text must not carry onto the user's terminal. */
const CONTROL = /\p{Cc}/gu;

type Stderr = { write(text: string): unknown };

function stderrOf(): Stderr | undefined {
  const stderr = (globalThis as { process?: { stderr?: Partial<Stderr> } }).process?.stderr;
  return typeof stderr?.write === 'function' ? (stderr as Stderr) : undefined;
}

/** The default prompt: one line for a person, on stderr (stdout stays the script's output). */
function promptOnStderr(stderr: Stderr): (prompt: DevicePrompt) => void {
  return (prompt) => {
    const clean = (text: string) => text.replace(CONTROL, '');
    const minutes = Math.max(1, Math.round((prompt.expiresAt - Date.now()) / 60_000));
    const where = prompt.verificationUriComplete
      ? `open ${clean(prompt.verificationUriComplete)} (or open ${clean(prompt.verificationUri)} and enter the code ${clean(prompt.userCode)})`
      : `open ${clean(prompt.verificationUri)} and enter the code ${clean(prompt.userCode)}`;
    stderr.write(`To sign in, ${where}; the code expires in ${minutes} minute${minutes === 1 ? '' : 's'}.\n`);
  };
}

/** Waits `ms`, or rejects at once when `signal` aborts; leaves no timer or listener behind. */
function sleep(ms: number, signal: AbortSignal | undefined, endpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedBy(signal, endpoint));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedBy(signal!, endpoint));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs one request under the caller's signal and its own {@link REQUEST_TIMEOUT_MS}. */
async function bounded<T>(
  signal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${REQUEST_TIMEOUT_MS} ms`, 'TimeoutError')),
    REQUEST_TIMEOUT_MS,
  );
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The error that ends a sign-in the user refused or let expire: what happened, and what to do. */
function signInEnded(
  error: 'access_denied' | 'expired_token',
  endpoint: string,
  cause: TokenEndpointError | undefined,
): TokenEndpointError {
  const message =
    error === 'access_denied'
      ? 'the sign-in was denied at the verification page (access_denied); nothing was retried: start the sign-in again to get a new code'
      : 'the sign-in code expired before it was approved (expired_token); nothing was retried: start the sign-in again to get a new code';
  return new TokenEndpointError(ErrorCodes.TOKEN_ENDPOINT_ERROR, message, {
    error,
    endpoint,
    ...(cause?.status === undefined ? {} : { status: cause.status }),
    ...(cause?.errorDescription === undefined ? {} : { errorDescription: cause.errorDescription }),
    ...(cause ? { cause } : {}),
  });
}

/** What one sign-in needs: the checked options. */
interface Flow extends ClientGrant {
  parameters: URLSearchParams;
  prompt: (prompt: DevicePrompt) => void | Promise<void>;
}

/** Asks the device authorization endpoint for a code pair (RFC 8628 §3.1–3.2). */
async function authorize(
  flow: Flow,
  signal: AbortSignal | undefined,
): Promise<client.DeviceAuthorizationResponse> {
  const metadata = await flow.server.metadata(flow.http, signal);
  if (!metadata.device_authorization_endpoint) {
    throw new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      `the server ${flow.server.issuer.href} has no device_authorization_endpoint in its metadata (give server.deviceAuthorizationEndpoint)`,
      { endpoint: flow.server.issuer.href },
    );
  }
  return bounded(signal, (requestSignal) =>
    runGrant(
      flow.server,
      flow.clientId,
      flow.auth,
      flow.http,
      {
        signal: requestSignal,
        what: 'device authorization endpoint',
        endpointField: 'device_authorization_endpoint',
        mapError: flow.mapError,
      },
      (config) => client.initiateDeviceAuthorization(config, flow.parameters),
    ),
  );
}

/**
 * One sign-in: a code pair, the prompt, then polls at the server's interval until the
 * user approves (tokens), refuses (`access_denied`) or the code expires (`expired_token`,
 * from the server or from our own deadline). `slow_down` adds 5 s to every later wait;
 * a transient failure (network, 5xx, 429) doubles it, as RFC 8628 §3.5 asks.
 */
async function signIn(flow: Flow, signal: AbortSignal | undefined): Promise<client.TokenEndpointResponse> {
  const started = Date.now();
  const code = await authorize(flow, signal);
  const deviceCode = code.device_code;
  const expiresAt = started + code.expires_in * 1000;
  const endpoint = flow.server.tokenEndpointHint;
  await flow.prompt({
    verificationUri: code.verification_uri,
    ...(code.verification_uri_complete ? { verificationUriComplete: code.verification_uri_complete } : {}),
    userCode: code.user_code,
    expiresAt,
  });
  let intervalMs = (code.interval ?? DEFAULT_INTERVAL_S) * 1000;
  let waitMs = intervalMs;
  for (;;) {
    const left = expiresAt - Date.now();
    if (left <= 0) throw signInEnded('expired_token', endpoint, undefined);
    await sleep(Math.min(waitMs, left), signal, endpoint);
    if (Date.now() >= expiresAt) throw signInEnded('expired_token', endpoint, undefined);
    try {
      return await bounded(signal, (requestSignal) =>
        runGrant(
          flow.server,
          flow.clientId,
          flow.auth,
          flow.http,
          { signal: requestSignal, extraSecrets: [deviceCode], dpop: flow.dpop, mapError: flow.mapError },
          (config, proof) =>
            client.genericGrantRequest(config, DEVICE_CODE_GRANT, { device_code: deviceCode }, proof),
        ),
      );
    } catch (error) {
      if (signal?.aborted || !isTokenEndpointError(error)) throw error;
      if (error.error === 'access_denied' || error.error === 'expired_token')
        throw signInEnded(error.error, endpoint, error);
      if (error.error === 'slow_down') intervalMs += SLOW_DOWN_MS;
      else if (error.retryable) intervalMs *= 2;
      else if (error.error !== 'authorization_pending') throw error;
      waitMs = Math.max(intervalMs, error.retryAfterMs ?? 0);
    }
  }
}

/**
 * A {@link TokenSource} for the device authorization grant (RFC 8628): for a researcher's
 * script, a CLI or a notebook that calls an API as the person running it, with no browser
 * redirect back to it. The first token asks the user, through `onPrompt`, to open a page
 * and enter a code; the source polls until they approve, refuse or the code expires, and
 * ends at once when the caller's `AbortSignal` aborts. Later tokens come from the refresh
 * token, so the user is asked once per sign-in, not once per token.
 *
 * The source is `interactive`: the token manager waits for the user as long as the code
 * lives, and never retries a sign-in (that would show a new code) or starts one from a
 * background refresh. Its tokens act for the user: give `session` when they go in a
 * shared store.
 *
 * @example
 * ```ts
 * const strategy = createAuthStrategy({
 *   source: deviceAuthorization({
 *     server: { issuer: 'https://auth.example.org', discovery: true },
 *     clientId: 'research-cli',
 *     scope: 'openid offline_access fhir.read',
 *     onPrompt: ({ verificationUri, userCode }) => console.error(`Open ${verificationUri} and enter ${userCode}`),
 *   }),
 *   origins: ['https://fhir.example.org'],
 * });
 * ```
 * @throws `ConfigError` naming the option, for any invalid option
 * @see https://www.rfc-editor.org/rfc/rfc8628
 */
export function deviceAuthorization(options: DeviceAuthorizationOptions): TokenSource {
  checkOptions(options, [...CLIENT_GRANT_KEYS, 'parameters', 'session', 'onPrompt']);
  const grant = checkClientGrant(options, none());
  const session = options.session;
  if (session !== undefined && (typeof session !== 'string' || session.length === 0))
    throw new ConfigError('must be a non-empty string when given', { option: 'session' });
  const flow: Flow = {
    ...grant,
    parameters: requestParameters(grant),
    prompt: checkPrompt(options.onPrompt),
  };
  return {
    identity: { ...identityOf(grant), actsForUser: true, ...(session === undefined ? {} : { session }) },
    interactive: true,
    ...(grant.dpop ? { dpop: grant.dpop } : {}),
    async fetchToken(request) {
      if (request.refreshToken) return requestToken(grant, request);
      return tokenFrom(await signIn(flow, request.signal), undefined, grant.dpop, request.now);
    },
  };
}

function checkPrompt(value: unknown): (prompt: DevicePrompt) => void | Promise<void> {
  if (value !== undefined) {
    if (typeof value !== 'function')
      throw new ConfigError('must be a function of the prompt (verification URI, user code)', {
        option: 'onPrompt',
      });
    return value as (prompt: DevicePrompt) => void | Promise<void>;
  }
  const stderr = stderrOf();
  if (!stderr)
    throw new ConfigError('must be given where there is no process.stderr (a browser, a worker)', {
      option: 'onPrompt',
    });
  return promptOnStderr(stderr);
}
