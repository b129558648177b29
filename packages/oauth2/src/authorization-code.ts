import * as client from 'openid-client';
import {
  AuthorizationResponseError,
  ConfigError,
  NotAuthenticatedError,
  checkOptions,
  ErrorCodes,
  TokenEndpointError,
  type FetchTokenOptions,
  type Token,
  type TokenSource,
} from '@authrail/core';
import { checkClientAuth, none, type ClientAuthentication } from './client-auth.js';
import { dpopBinding, type DPoPBinding } from './dpop.js';
import { GRANT_KEYS, checkClientId, checkMapError, runGrant, tokenFrom, type GrantOptions } from './grant.js';
import type { MapError } from './errors.js';
import { checkHttp, type HttpSettings } from './http.js';
import { resolveServer, secureUrl, type ResolvedServer, type ServerOptions } from './server.js';
import { defaultStorage, type FlowStorage } from './storage.js';

/** Options of {@link authorizationCode}. */
export interface AuthorizationCodeOptions extends GrantOptions {
  /** The server; its metadata must have an authorization endpoint. */
  server: ServerOptions;
  /** The OAuth client id. */
  clientId: string;
  /** Where the authorization server sends the browser back to. Must be registered. */
  redirectUri: string;
  /** Requested scope. Ask for `offline_access` to get a refresh token where the server needs it. */
  scope?: string;
  /** Default `none()` (a public client with PKCE); confidential web apps pass a secret. */
  clientAuth?: ClientAuthentication;
  /** Where the pending PKCE verifier and state are kept. Default `sessionStorage` in browsers, memory otherwise. */
  storage?: FlowStorage;
  /** Key prefix in `storage`. Default `authrail:`. */
  storageKey?: string;
  /**
   * Whose tokens these are: your app's session (or user) id. Part of the token store key,
   * so users sharing a store (a server-side app, Redis) never get each other's tokens;
   * required when you pass `store`.
   */
  session?: string;
  /** For presets: the vendor's errors, mapped from core's typed error and its response. Default: as they are. */
  mapError?: MapError;
}

/** A {@link TokenSource} for the authorization code flow with PKCE. */
export interface AuthorizationCodeSource extends TokenSource {
  /**
   * Creates a PKCE S256 verifier and a `state`, stores them, and returns the URL to send
   * the browser to. PKCE and state are always on.
   */
  authorizationUrl(parameters?: Record<string, string>, options?: CallOptions): Promise<URL>;
  /**
   * Takes the URL the browser came back to: finds the sign-in its `state` belongs to,
   * turns an `error` into an {@link AuthorizationResponseError}, exchanges the code (with
   * that sign-in's verifier) and returns the token. The matched sign-in is used up either
   * way; a state that matches none (forged, stale, expired after 10 minutes) is refused
   * and leaves every pending sign-in in place.
   */
  handleRedirect(url: string | URL, options?: CallOptions): Promise<Token>;
  /**
   * Revokes a token at the revocation endpoint (RFC 7009), if the server has one; does
   * nothing otherwise. Failures reject with a `TokenEndpointError` (the token scrubbed).
   */
  revoke(token: string, hint?: 'access_token' | 'refresh_token', options?: CallOptions): Promise<void>;
  /** Drops every pending sign-in. */
  clearPending(): Promise<void>;
}

/**
 * Options of the calls the token manager does not make (the code exchange, revocation,
 * discovery for the authorize URL).
 */
export interface CallOptions {
  /**
   * Ends the call. Pass one bounded by your strategy's `retry.attemptTimeoutMs` (the
   * Medblocks preset does); without it the call is bounded at 30 s.
   */
  signal?: AbortSignal;
}

/** The bound of a call made without a signal: the token manager's default attempt timeout. */
const UNSIGNALLED_TIMEOUT_MS = 30_000;

/** How long a started sign-in can be completed: after this its pending entry is dropped. */
const PENDING_TTL_MS = 10 * 60_000;

/** Most sign-ins pending at once (tabs, retries); the oldest go first. */
const MAX_PENDING = 10;

interface Pending {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  createdAt: number;
}

/** The index of pending sign-ins: their states and when they began, so expired ones can be removed. */
type PendingIndex = { state: string; createdAt: number }[];

/**
 * Where a source keeps its pending sign-ins. They are keyed by their state: two tabs can
 * sign in at once, and a callback with another state (forged, or stale) cannot cancel
 * the real one.
 */
interface PendingStore {
  storage: FlowStorage;
  /** The key of the index; each pending sign-in is at `${indexKey}:${state}`. */
  indexKey: string;
}

/** What a code flow source's calls share: its options, checked once. */
interface CodeFlow {
  server: ResolvedServer;
  clientId: string;
  /** The registered redirect URI, normalised. */
  redirectUri: string;
  scope: string | undefined;
  session: string | undefined;
  auth: ClientAuthentication;
  http: HttpSettings;
  dpop: DPoPBinding | undefined;
  mapError: MapError | undefined;
  pending: PendingStore;
}

/**
 * The authorization code grant with PKCE (S256) and state, for browser apps and
 * other public clients. Refresh (`fetchToken({ refreshToken })`) keeps the old refresh
 * token when the server returns none and uses the new one when it rotates.
 *
 * @example
 * ```ts
 * const source = authorizationCode({ server: { issuer, discovery: true }, clientId: 'spa', redirectUri: location.origin + '/' });
 * location.assign(await source.authorizationUrl());
 * // … back on redirectUri:
 * const token = await source.handleRedirect(location.href);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export function authorizationCode(options: AuthorizationCodeOptions): AuthorizationCodeSource {
  const flow = checkCodeFlowOptions(options);
  const { server, clientId, scope, session, dpop } = flow;
  return {
    identity: {
      tokenEndpoint: server.tokenEndpointHint,
      clientId,
      ...(scope ? { scope } : {}),
      actsForUser: true,
      ...(session === undefined ? {} : { session }),
      ...(dpop ? { parameters: { dpop: dpop.keyId } } : {}),
    },
    ...(dpop ? { dpop } : {}),
    authorizationUrl: (parameters = {}, call) => startSignIn(flow, parameters, call),
    handleRedirect: (url, call) => completeSignIn(flow, url, call),
    fetchToken: (fetchOptions) => refreshCodeFlowToken(flow, fetchOptions),
    revoke: (token, hint, call) => revokeToken(flow, token, hint, call),
    clearPending: () => updateIndex(flow.pending, () => []),
  };
}

/**
 * Checks the options of {@link authorizationCode} (in the order the messages name them)
 * and fixes what every call of the source shares.
 */
function checkCodeFlowOptions(options: AuthorizationCodeOptions): CodeFlow {
  checkOptions(options, [
    'server',
    'clientId',
    'redirectUri',
    'scope',
    'clientAuth',
    'storage',
    'storageKey',
    'session',
    'mapError',
    ...GRANT_KEYS,
  ]);
  const server = resolveServer(options.server);
  const clientId = checkClientId(options.clientId);
  const redirect = secureUrl(options.redirectUri, 'redirectUri');
  if (redirect.hash || String(options.redirectUri).includes('#'))
    throw new ConfigError('must not have a fragment (RFC 6749 §3.1.2)', { option: 'redirectUri' });
  const auth = options.clientAuth === undefined ? none() : checkClientAuth(options.clientAuth);
  if (options.scope !== undefined && typeof options.scope !== 'string')
    throw new ConfigError('must be a space-separated string', { option: 'scope' });
  if ('tokenEndpoint' in options.server && !options.server.authorizationEndpoint) {
    throw new ConfigError('must be given for the authorization code flow', {
      option: 'server.authorizationEndpoint',
    });
  }
  const storage = options.storage ?? defaultStorage();
  if (
    typeof storage?.getItem !== 'function' ||
    typeof storage.setItem !== 'function' ||
    typeof storage.removeItem !== 'function'
  ) {
    throw new ConfigError('must have getItem, setItem and removeItem', { option: 'storage' });
  }
  const prefix = options.storageKey ?? 'authrail:';
  if (typeof prefix !== 'string') throw new ConfigError('must be a string', { option: 'storageKey' });
  const session = options.session;
  if (session !== undefined && (typeof session !== 'string' || session.length === 0))
    throw new ConfigError('must be a non-empty string when given', { option: 'session' });
  const http = checkHttp(options);
  const dpop = dpopBinding(options.dpop, clientId);
  const mapError = checkMapError(options.mapError);
  return {
    server,
    clientId,
    redirectUri: redirect.href,
    scope: options.scope,
    session,
    auth,
    http,
    dpop,
    mapError,
    pending: { storage, indexKey: `${prefix}pending:${clientId}` },
  };
}

/** The caller's signal, or one that ends the call after {@link UNSIGNALLED_TIMEOUT_MS}. */
function bounded(call: CallOptions | undefined): AbortSignal {
  return call?.signal ?? AbortSignal.timeout(UNSIGNALLED_TIMEOUT_MS);
}

function pendingKey(store: PendingStore, state: string): string {
  return `${store.indexKey}:${state}`;
}

async function readJson(storage: FlowStorage, key: string): Promise<unknown> {
  const raw = await storage.getItem(key);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined; // not ours: treated as nothing stored
  }
}

async function readIndex(store: PendingStore): Promise<PendingIndex> {
  const value = await readJson(store.storage, store.indexKey);
  return Array.isArray(value)
    ? (value as unknown[]).filter(
        (e): e is PendingIndex[number] =>
          typeof (e as PendingIndex[number])?.state === 'string' &&
          typeof (e as PendingIndex[number]).createdAt === 'number',
      )
    : [];
}

/** Writes the index without `drop`ped and expired entries (and removes those entries). */
async function updateIndex(store: PendingStore, change: (live: PendingIndex) => PendingIndex): Promise<void> {
  const all = await readIndex(store);
  const live = all.filter((e) => Date.now() - e.createdAt < PENDING_TTL_MS);
  const next = change(live).slice(-MAX_PENDING);
  const kept = new Set(next.map((e) => e.state));
  for (const e of all) if (!kept.has(e.state)) await store.storage.removeItem(pendingKey(store, e.state));
  if (next.length) await store.storage.setItem(store.indexKey, JSON.stringify(next));
  else await store.storage.removeItem(store.indexKey);
}

async function readPending(store: PendingStore, state: string): Promise<Pending | undefined> {
  const value = (await readJson(store.storage, pendingKey(store, state))) as Partial<Pending> | undefined;
  const ok =
    typeof value?.state === 'string' &&
    value.state === state &&
    typeof value.codeVerifier === 'string' &&
    typeof value.redirectUri === 'string' &&
    typeof value.createdAt === 'number' &&
    Date.now() - value.createdAt < PENDING_TTL_MS;
  return ok ? (value as Pending) : undefined;
}

/** {@link AuthorizationCodeSource.authorizationUrl}: stores a new pending sign-in and builds its URL. */
async function startSignIn(
  flow: CodeFlow,
  parameters: Record<string, string>,
  call: CallOptions | undefined,
): Promise<URL> {
  const { server, dpop } = flow;
  const metadata = await server.metadata(flow.http, bounded(call));
  if (!metadata.authorization_endpoint) {
    throw new TokenEndpointError(
      ErrorCodes.TOKEN_RESPONSE_INVALID,
      `the discovery document of ${server.issuer.href} has no authorization_endpoint`,
      { endpoint: server.issuer.href },
    );
  }
  const pending: Pending = {
    state: client.randomState(),
    codeVerifier: client.randomPKCECodeVerifier(),
    redirectUri: flow.redirectUri,
    createdAt: Date.now(),
  };
  await flow.pending.storage.setItem(pendingKey(flow.pending, pending.state), JSON.stringify(pending));
  await updateIndex(flow.pending, (live) => [
    ...live,
    { state: pending.state, createdAt: pending.createdAt },
  ]);
  const config = new client.Configuration(metadata, flow.clientId);
  if (server.insecure) client.allowInsecureRequests(config);
  return client.buildAuthorizationUrl(config, {
    ...parameters,
    redirect_uri: flow.redirectUri,
    response_type: 'code',
    // A sign-in may widen the scope (SMART's EHR launch adds `launch`).
    ...((parameters.scope ?? flow.scope) ? { scope: parameters.scope ?? flow.scope } : {}),
    state: pending.state,
    code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
    // RFC 9449 §10: the code is bound to the key, so only this source can redeem it.
    ...(dpop ? { dpop_jkt: await dpop.thumbprint() } : {}),
  });
}

/**
 * {@link AuthorizationCodeSource.handleRedirect}: uses up the sign-in the redirect's
 * state matches, then exchanges its code.
 */
async function completeSignIn(
  flow: CodeFlow,
  url: string | URL,
  call: CallOptions | undefined,
): Promise<Token> {
  const params = new URL(String(url)).searchParams;
  const state = params.get('state');
  const pending = state ? await readPending(flow.pending, state) : undefined;
  const secrets = [params.get('code') ?? undefined, pending?.codeVerifier].filter((s): s is string => !!s);
  if (!pending) {
    // Nothing is removed: a forged or stale callback must not cancel a real sign-in.
    throw await unmatchedStateError(flow.pending, secrets);
  }
  // The state matched: this sign-in is used up, whatever the response says.
  await flow.pending.storage.removeItem(pendingKey(flow.pending, pending.state));
  await updateIndex(flow.pending, (live) => live.filter((e) => e.state !== pending.state));
  checkAuthorizationResponse(params, secrets);
  return exchangeCode(flow, params, pending, secrets, call);
}

/** The error of a redirect whose state matches no pending sign-in: a mismatch, or nothing pending at all. */
async function unmatchedStateError(
  store: PendingStore,
  secrets: string[],
): Promise<AuthorizationResponseError> {
  const anyPending = (await readIndex(store)).some((e) => Date.now() - e.createdAt < PENDING_TTL_MS);
  return anyPending
    ? new AuthorizationResponseError(
        'the state in the redirect matches no sign-in in progress: the response is not for this app (or it expired)',
        { error: 'state_mismatch', secrets },
      )
    : new AuthorizationResponseError(
        'no authorization is pending: call authorizationUrl() (or login()) first',
        {
          error: 'no_pending_authorization',
          secrets,
        },
      );
}

/** Throws the `error` of an authorization response, or its lack of a code. */
function checkAuthorizationResponse(params: URLSearchParams, secrets: string[]): void {
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description') ?? undefined;
    throw new AuthorizationResponseError(
      `the authorization server answered ${error}${description ? `: ${description}` : ''}`,
      {
        error,
        ...(description ? { errorDescription: description } : {}),
        secrets,
      },
    );
  }
  if (!params.get('code')) {
    throw new AuthorizationResponseError('the redirect carries no code', {
      error: 'missing_code',
      secrets,
    });
  }
}

/** Exchanges the code of a matched redirect, with its sign-in's verifier. */
async function exchangeCode(
  flow: CodeFlow,
  params: URLSearchParams,
  pending: Pending,
  secrets: string[],
  call: CallOptions | undefined,
): Promise<Token> {
  const { dpop } = flow;
  // openid-client derives redirect_uri from the URL it is given: rebuild it on the
  // registered URI so a trailing path or hash on the current page cannot change it.
  const callback = new URL(pending.redirectUri);
  for (const [k, v] of params) callback.searchParams.append(k, v);
  const response = await runGrant(
    flow.server,
    flow.clientId,
    flow.auth,
    flow.http,
    { signal: bounded(call), extraSecrets: secrets, dpop, mapError: flow.mapError },
    (config, proof) =>
      client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state },
        undefined,
        proof,
      ),
  );
  return tokenFrom(response, undefined, dpop);
}

/** {@link TokenSource.fetchToken} of the code flow: a refresh, as the flow itself needs a browser. */
async function refreshCodeFlowToken(
  flow: CodeFlow,
  { signal, refreshToken, now }: FetchTokenOptions,
): Promise<Token> {
  if (!refreshToken) {
    throw new NotAuthenticatedError(
      'not signed in (or the session ended): sign in again with the authorization code flow',
    );
  }
  const { dpop } = flow;
  const response = await runGrant(
    flow.server,
    flow.clientId,
    flow.auth,
    flow.http,
    { ...(signal ? { signal } : {}), extraSecrets: [refreshToken], dpop, mapError: flow.mapError },
    (config, proof) => client.refreshTokenGrant(config, refreshToken, undefined, proof),
  );
  return tokenFrom(response, refreshToken, dpop, now);
}

/** {@link AuthorizationCodeSource.revoke}: RFC 7009, where the server has a revocation endpoint. */
async function revokeToken(
  flow: CodeFlow,
  token: string,
  hint: 'access_token' | 'refresh_token' | undefined,
  call: CallOptions | undefined,
): Promise<void> {
  const signal = bounded(call);
  const metadata = await flow.server.metadata(flow.http, signal);
  if (!metadata.revocation_endpoint) return;
  await runGrant(
    flow.server,
    flow.clientId,
    flow.auth,
    flow.http,
    {
      signal,
      extraSecrets: [token],
      what: 'revocation endpoint',
      endpointField: 'revocation_endpoint',
      mapError: flow.mapError,
    },
    (config) => client.tokenRevocation(config, token, hint ? { token_type_hint: hint } : {}),
  );
}
