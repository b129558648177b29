import * as client from 'openid-client';
import {
  ConfigError,
  NotAuthenticatedError,
  checkOptions,
  createAuthStrategy,
  createTokenManager,
  isTokenEndpointError,
  type StrategyOptions,
  type TokenAuthStrategy,
  type TokenManager,
  type TokenManagerOptions,
  type TokenOptions,
  type TokenSource,
  type TokenSourceIdentity,
} from '@authrail/core';
import { expiryOf } from './assertion.js';
import type { ClientAuthentication } from './client-auth.js';
import { CLIENT_GRANT_KEYS, checkClientGrant, identityOf, type ClientGrant } from './client-grant.js';
import type { MapError } from './errors.js';
import { runGrant, tokenFrom, type GrantOptions } from './grant.js';
import type { ServerOptions } from './server.js';

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Options of {@link createTokenExchangeStrategy}. */
export interface TokenExchangeOptions extends StrategyOptions, TokenOptions, GrantOptions {
  /** The authorization server: discovered, or its endpoints given directly. */
  server: ServerOptions;
  /** The OAuth client id of this service. */
  clientId: string;
  /** How this service authenticates: `clientSecretBasic`, `clientSecretPost`, `privateKeyJwt` or `clientAssertion`. */
  clientAuth: ClientAuthentication;
  /**
   * Returns the subject token of the request being made: the token your service's caller
   * sent. Called for every request, in that request's async context (read it from an
   * `AsyncLocalStorage`). Returning nothing is a `NotAuthenticatedError`; nothing is sent.
   */
  subjectToken: () => string | undefined | Promise<string | undefined>;
  /** What the subject token is. Default `urn:ietf:params:oauth:token-type:access_token`. */
  subjectTokenType?: string;
  /** Who acts for the subject (RFC 8693 `actor_token`): a token, or a function read for every exchange. */
  actorToken?: string | (() => string | Promise<string>);
  /** What the actor token is. Default `urn:ietf:params:oauth:token-type:access_token`; only with `actorToken`. */
  actorTokenType?: string;
  /** The downstream service(s) the token is for, by name (RFC 8693 `audience`). */
  audience?: string | readonly string[];
  /** The downstream service(s) the token is for, by URI (RFC 8707 `resource`). */
  resource?: string | readonly string[];
  /** Requested scope, space separated. */
  scope?: string;
  /** The kind of token wanted (RFC 8693 `requested_token_type`). Default: the server's choice. */
  requestedTokenType?: string;
  /**
   * Most subjects whose exchanged tokens are kept in this process; the one used longest
   * ago goes first (with its token, unless `store` keeps it). Default 1000.
   */
  maxSubjects?: number;
  /** For presets: the vendor's errors, mapped from core's typed error and its response. Default: as they are. */
  mapError?: MapError;
}

/** A token type: an absolute URI such as `urn:ietf:params:oauth:token-type:jwt`. */
const TOKEN_TYPE = /^[a-z][a-z0-9+.-]*:\S+$/i;

function checkTokenType(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !TOKEN_TYPE.test(value))
    throw new ConfigError('must be a token type URI, such as urn:ietf:params:oauth:token-type:jwt', {
      option,
    });
  return value;
}

function checkNames(value: unknown, option: string): string[] {
  if (value === undefined) return [];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.some((v) => typeof v !== 'string' || v.length === 0))
    throw new ConfigError('must be a non-empty string or an array of them', { option });
  return list as string[];
}

function checkActor(value: unknown): (() => Promise<string>) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0) return () => Promise.resolve(value);
  if (typeof value !== 'function')
    throw new ConfigError('must be a non-empty string or a function that reads one', {
      option: 'actorToken',
      secrets: [typeof value === 'string' ? value : undefined],
    });
  const read = value as () => string | Promise<string>;
  return async () => {
    const token = await read();
    if (typeof token !== 'string' || token.length === 0)
      throw new TypeError('the actorToken function returned no token');
    return token;
  };
}

/** Everything one exchange needs but the subject: checked once, shared by every subject. */
interface Exchange extends ClientGrant {
  /** The request's parameters other than the subject and actor tokens. */
  parameters: [string, string][];
  actor: (() => Promise<string>) | undefined;
  identity: TokenSourceIdentity;
}

function checkExchange(options: TokenExchangeOptions): Exchange {
  const grant = checkClientGrant(options);
  const audiences = checkNames(options.audience, 'audience');
  const subjectType = checkTokenType(options.subjectTokenType, 'subjectTokenType') ?? ACCESS_TOKEN_TYPE;
  const requested = checkTokenType(options.requestedTokenType, 'requestedTokenType');
  const actor = checkActor(options.actorToken);
  const actorType = checkTokenType(options.actorTokenType, 'actorTokenType');
  if (actorType && !actor)
    throw new ConfigError('is only used with actorToken', { option: 'actorTokenType' });
  const parameters: [string, string][] = [
    ['subject_token_type', subjectType],
    ...audiences.map((a): [string, string] => ['audience', a]),
    ...grant.resources.map((r): [string, string] => ['resource', r]),
    ...(options.scope ? [['scope', options.scope] as [string, string]] : []),
    ...(requested ? [['requested_token_type', requested] as [string, string]] : []),
    ...(actor ? [['actor_token_type', actorType ?? ACCESS_TOKEN_TYPE] as [string, string]] : []),
  ];
  const keyed: Record<string, string[]> = {};
  for (const [name, value] of parameters) if (name !== 'scope') (keyed[name] ??= []).push(value);
  const identity = {
    ...identityOf(grant, { grant_type: TOKEN_EXCHANGE_GRANT, ...keyed }),
    actsForUser: true,
  };
  return { ...grant, parameters, actor, identity };
}

/** The source of one subject's tokens: `session` is the SHA-256 of its subject token, never the token. */
function subjectSource(exchange: Exchange, subjectToken: string, session: string): TokenSource {
  const { server, clientId, auth, http, dpop, mapError } = exchange;
  return {
    identity: { ...exchange.identity, session },
    ...(dpop ? { dpop } : {}),
    async fetchToken({ signal, refreshToken, now }) {
      const actorToken = refreshToken ? undefined : await exchange.actor?.();
      const parameters = new URLSearchParams(exchange.parameters);
      parameters.set('subject_token', subjectToken);
      if (actorToken) parameters.set('actor_token', actorToken);
      const response = await runGrant(
        server,
        clientId,
        auth,
        http,
        {
          ...(signal ? { signal } : {}),
          extraSecrets: [subjectToken, actorToken ?? '', refreshToken ?? ''].filter(Boolean),
          dpop,
          mapError,
        },
        (config, proof) =>
          refreshToken
            ? client.refreshTokenGrant(config, refreshToken, undefined, proof)
            : client.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, parameters, proof),
      );
      return tokenFrom(asBearer(response), refreshToken, dpop, now);
    },
  };
}

/**
 * RFC 8693 §2.2.1: `token_type: N_A` marks an issued token that is not an OAuth access
 * token (a JWT for the downstream service); it is still presented as a bearer token.
 */
function asBearer(response: client.TokenEndpointResponse): client.TokenEndpointResponse {
  if (String(response.token_type).toUpperCase() !== 'N_A') return response;
  const copy: Record<string, unknown> = { ...response, token_type: 'bearer' };
  return copy as client.TokenEndpointResponse;
}

interface NodeCrypto {
  createHash(algorithm: 'sha256'): { update(text: string): { digest(encoding: 'hex'): string } };
}

/**
 * SHA-256 in hex. Node's own hash where the runtime has one (Node, Bun, Deno): it is
 * synchronous, about a hundred times faster per request than WebCrypto's, which is used
 * elsewhere.
 */
const sha256Hex: (text: string) => string | Promise<string> = (() => {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const node = process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  if (node) return (text: string) => node.createHash('sha256').update(text).digest('hex');
  return async (text: string) => {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  };
})();

/** The subject token of the current request, checked: none, or one past its own `exp`, is not signed in. */
async function currentSubject(read: TokenExchangeOptions['subjectToken']): Promise<string> {
  const subject = await read();
  if (typeof subject !== 'string' || subject.length === 0)
    throw new NotAuthenticatedError(
      'no subject token for this request: subjectToken() returned none (is the request inside your context?)',
    );
  const exp = expiryOf(subject);
  if (exp !== undefined && exp * 1000 <= Date.now())
    throw new NotAuthenticatedError(`the subject token expired at ${new Date(exp * 1000).toISOString()}`, {
      secrets: [subject],
    });
  return subject;
}

/**
 * A refusal of the subject (or actor) token, as the caller's own 401: the server's error
 * (already scrubbed of both tokens by `runGrant`) kept as the cause, as it is.
 */
function asRefusal(error: unknown): unknown {
  if (!isTokenEndpointError(error) || error.error !== 'invalid_grant') return error;
  return new NotAuthenticatedError(
    'the token endpoint refused the subject (or actor) token (invalid_grant): it is expired, revoked or not for this service',
    { cause: error },
  );
}

/**
 * The token manager of the strategy: each call finds the manager of the current
 * request's subject (by the SHA-256 of its token), most recently used last, at most
 * `max` of them. Each is core's own manager over one subject's source, so caching,
 * refresh, single flight and retries are core's, per subject.
 */
function subjectManagers(
  exchange: Exchange,
  read: TokenExchangeOptions['subjectToken'],
  manager: Omit<TokenManagerOptions, 'source'>,
  max: number,
): TokenManager {
  const managers = new Map<string, TokenManager>();
  const current = async (): Promise<TokenManager> => {
    const subject = await currentSubject(read);
    const key = await sha256Hex(subject);
    let tokens = managers.get(key);
    if (tokens) managers.delete(key);
    else tokens = createTokenManager({ ...manager, source: subjectSource(exchange, subject, key) });
    managers.set(key, tokens);
    if (managers.size > max) managers.delete(managers.keys().next().value as string);
    return tokens;
  };
  return {
    async getToken(options) {
      const tokens = await current();
      try {
        return await tokens.getToken(options);
      } catch (error) {
        throw asRefusal(error);
      }
    },
    invalidate: async (token) => (await current()).invalidate(token),
    setToken: async (token) => (await current()).setToken(token),
    clear: async () => (await current()).clear(),
    peek: async () => (await current()).peek(),
    ...(exchange.dpop ? { dpop: exchange.dpop } : {}),
  };
}

/**
 * A strategy that calls a downstream API on behalf of the user who called your service
 * (OAuth 2.0 Token Exchange, RFC 8693, on openid-client): for every request it reads the
 * caller's token with `subjectToken()` (from an `AsyncLocalStorage` of your server's
 * request context), exchanges it for a token for `audience`/`resource`, and caches that
 * per subject.
 *
 * Subjects never mix: each has its own token manager (core's: refresh, single flight,
 * retries), found by the SHA-256 of its subject token, whose store key carries that hash
 * as its `session`, so a shared `store` (Redis) keeps every subject's tokens apart. The
 * subject token itself is in no key, error, log line or event. At most `maxSubjects`
 * managers are kept, least recently used dropped first.
 *
 * A request with no subject token, one whose JWT `exp` has passed, or one the server
 * refuses (`invalid_grant`) rejects with a `NotAuthenticatedError`: answer your caller 401.
 * `tokens` acts on the current request's subject (`clear()` forgets that subject's token).
 *
 * @throws `ConfigError` naming the option, for any invalid option
 * @example
 * ```ts
 * const caller = new AsyncLocalStorage<{ token: string }>();
 * const orders = createTokenExchangeStrategy({
 *   server: { issuer: 'https://login.example.org', discovery: true },
 *   clientId: 'gateway',
 *   clientAuth: clientSecretBasic(process.env.GATEWAY_SECRET!),
 *   subjectToken: () => caller.getStore()?.token,
 *   audience: 'https://orders.example.org/',
 *   scope: 'orders.read',
 *   origins: ['https://orders.example.org'],
 * });
 * const ordersFetch = createAuthFetch(orders);
 * // in a request handler: caller.run({ token: bearerOf(req) }, () => ordersFetch('https://orders.example.org/v1/orders'));
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
export function createTokenExchangeStrategy(options: TokenExchangeOptions): TokenAuthStrategy {
  checkOptions(options, [
    ...['origins', 'policies', 'rejectWhen', 'logger', 'on', 'store', 'refresh', 'retry'],
    ...['server', 'clientId', 'clientAuth', 'subjectToken', 'subjectTokenType', 'actorToken'],
    ...['actorTokenType', 'audience', 'resource', 'scope', 'requestedTokenType', 'maxSubjects'],
    ...CLIENT_GRANT_KEYS,
  ]);
  if (typeof options.subjectToken !== 'function')
    throw new ConfigError("must be a function returning the current request's subject token", {
      option: 'subjectToken',
    });
  const max = options.maxSubjects ?? 1000;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
    throw new ConfigError('must be an integer of 1 or more', { option: 'maxSubjects' });
  if (!globalThis.crypto?.subtle)
    throw new ConfigError('needs WebCrypto (crypto.subtle) to key subjects by a hash', {
      option: 'subjectToken',
    });
  const exchange = checkExchange(options);
  const { store, refresh, retry, logger, on } = options;
  const manager = {
    ...(store ? { store } : {}),
    ...(refresh ? { refresh } : {}),
    ...(retry ? { retry } : {}),
    ...(logger === undefined ? {} : { logger }),
    ...(on ? { on } : {}),
  };
  // Core checks store, refresh and retry when it builds a manager: build one now, so a bad
  // option fails here and not at a first request.
  createTokenManager({ ...manager, source: subjectSource(exchange, 'unused', 'construction-check') });
  const { origins, policies, rejectWhen } = options;
  return createAuthStrategy({
    ...{ origins, ...(policies ? { policies } : {}), ...(rejectWhen ? { rejectWhen } : {}) },
    ...(logger === undefined ? {} : { logger }),
    ...(on ? { on } : {}),
    tokens: subjectManagers(exchange, options.subjectToken, manager, max),
  });
}
