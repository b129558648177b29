// A real, standards-true authorization server (oidc-provider) for tests, bound to
// 127.0.0.1 on a free port, recording every request it receives — headers and body —
// so tests can assert what a client really sent (which client authentication, PKCE).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata, default as ProviderClass } from 'oidc-provider';
import {
  registerJwtBearer,
  registerTokenExchange,
  type JwtIssuer,
  type ResourceServers,
} from './oidc-grants.js';

/**
 * oidc-provider, loaded on first use (not by every test file that imports the test
 * utilities). Its import warns that Node 20 is not a runtime it supports; authrail's tests
 * run it on Node 20 on purpose (our supported range), so that one line is not repeated
 * in every test file's output.
 */
let loaded: Promise<typeof ProviderClass> | undefined;
function loadProvider(): Promise<typeof ProviderClass> {
  loaded ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
    };
    try {
      return (await import('oidc-provider')).default;
    } finally {
      console.warn = warn;
    }
  })();
  return loaded;
}

export interface OidcRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  form: URLSearchParams;
}

export interface OidcProviderHandle {
  issuer: string;
  requests: OidcRequest[];
  /** Token endpoint requests only. */
  tokenRequests(): OidcRequest[];
  /** Issues an opaque access token for `accountId` to `clientId`, as a sign-in would (a subject token to exchange). */
  mintAccessToken(accountId: string, clientId: string): Promise<string>;
  close(): Promise<void>;
}

export interface OidcProviderOptions {
  clients: ClientMetadata[];
  /** Access token lifetime, seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Scopes besides `openid`, `offline_access` and `api:read` (SMART's `system/…`). */
  scopes?: string[];
  /** DPoP (RFC 9449) is always on; with this, every DPoP token request must carry a server nonce. */
  requireDPoPNonce?: boolean;
  /** Resource indicators (RFC 8707) the provider knows: each issues JWT access tokens with `aud` the indicator. */
  resourceServers?: ResourceServers;
  /** Registers the token exchange grant (RFC 8693) for opaque access tokens this provider issued. */
  tokenExchange?: boolean;
  /** Registers the JWT bearer grant (RFC 7523 §2.1), trusting assertions from this issuer. */
  jwtBearer?: JwtIssuer;
}

/**
 * Starts oidc-provider with client credentials, PKCE (required for public clients),
 * refresh token rotation, revocation and dev interactions (a login + consent form).
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProviderHandle> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const Provider = await loadProvider();
  const provider = new Provider(issuer, {
    clients: options.clients,
    features: {
      ...(options.resourceServers ? { resourceIndicators: resourceIndicators(options.resourceServers) } : {}),
      clientCredentials: { enabled: true },
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.requireDPoPNonce === true,
      },
    },
    // SMART Backend Services sign client assertions with RS384 or ES384.
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'RS384', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'ES384', 'PS256', 'EdDSA'],
    },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'api:read', ...(options.scopes ?? [])],
    ttl: { AccessToken: options.accessTokenTtl ?? 3600, ClientCredentials: options.accessTokenTtl ?? 3600 },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    clientBasedCORS: () => true,
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // RFC 8693 §4.1: who acts for the subject; the exchange handler leaves an actor token's subject in ctx.state.
    extraTokenClaims: (ctx, token) =>
      (token as { gty?: string }).gty === 'token-exchange'
        ? { act: { sub: (ctx.state as { actor?: string }).actor ?? token.clientId } }
        : undefined,
  });
  const { errors } = await import('oidc-provider');
  if (options.tokenExchange) registerTokenExchange(provider, options.resourceServers ?? {}, errors);
  if (options.jwtBearer)
    registerJwtBearer(provider, options.resourceServers ?? {}, errors, options.jwtBearer);
  const requests = recordRequests(server, issuer, provider.callback());
  return {
    issuer,
    requests,
    tokenRequests: () => requests.filter((r) => r.path === '/token'),
    async mintAccessToken(accountId, clientId) {
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope('openid');
      const grantId = await grant.save();
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error(`no client ${clientId}`);
      return new provider.AccessToken({
        accountId,
        client,
        grantId,
        gty: 'authorization_code',
        scope: 'openid',
      }).save();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Hands every request to `callback`, recording it (headers and body) as it goes. */
function recordRequests(
  server: ReturnType<typeof createServer>,
  issuer: string,
  callback: ReturnType<InstanceType<typeof ProviderClass>['callback']>,
): OidcRequest[] {
  const requests: OidcRequest[] = [];
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    const push = req.push.bind(req);
    // The HTTP parser feeds the body through push(); record it without consuming it.
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk) chunks.push(Buffer.from(chunk as Uint8Array));
      return push(chunk, encoding);
    };
    const record: OidcRequest = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', issuer).pathname,
      headers: req.headers,
      body: Buffer.alloc(0),
      form: new URLSearchParams(),
    };
    requests.push(record);
    req.on('end', () => {
      record.body = Buffer.concat(chunks);
      if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        record.form = new URLSearchParams(record.body.toString());
      }
    });
    void callback(req, res);
  });
  return requests;
}

/** Resource indicators from a map of indicator → scope: JWT access tokens with that `aud`. */
function resourceIndicators(servers: ResourceServers) {
  return {
    enabled: true,
    getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
      const info = servers[indicator];
      if (!info) throw new (await import('oidc-provider')).errors.InvalidTarget();
      return {
        audience: indicator,
        scope: info.scope,
        accessTokenFormat: 'jwt' as const,
        accessTokenTTL: info.accessTokenTTL ?? 300,
      };
    },
  };
}

/**
 * Drives oidc-provider's dev login and consent forms headlessly with fetch (cookies
 * kept by hand), as a browser would; returns the redirect URL that carries the code.
 */
export async function signInHeadlessly(authorizationUrl: URL, login = 'user-1'): Promise<string> {
  const cookies = new Map<string, string>();
  const keep = (response: Response) => {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, ...value] = pair!.split('=');
      cookies.set(name!, value.join('='));
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = authorizationUrl.href;
  for (let step = 0; step < 10; step += 1) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader() } });
    keep(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url);
      if (next.searchParams.has('code') || next.searchParams.has('error')) return next.href;
      url = next.href;
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form at step ${step} (${response.status})`);
    const form = new URLSearchParams();
    if (html.includes('name="login"')) {
      form.set('prompt', 'login');
      form.set('login', login);
      form.set('password', 'any');
    } else {
      form.set('prompt', 'consent');
    }
    const posted = await fetch(new URL(action, url), {
      method: 'POST',
      body: form,
      redirect: 'manual',
      headers: { cookie: cookieHeader() },
    });
    keep(posted);
    const after = posted.headers.get('location');
    if (!after) throw new Error(`the ${form.get('prompt')} form did not redirect (${posted.status})`);
    const next = new URL(after, url);
    if (next.searchParams.has('code') || next.searchParams.has('error')) return next.href;
    url = next.href;
  }
  throw new Error('sign-in did not finish in 10 steps');
}
