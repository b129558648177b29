// A real, standards-true authorization server (oidc-provider) for tests, bound to
// 127.0.0.1 on a free port, recording every request it receives — headers and body —
// so tests can assert what a client really sent (which client authentication, PKCE).
import type { X509Certificate } from 'node:crypto';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ClientMetadata, Configuration, default as ProviderClass } from 'oidc-provider';
import {
  registerJwtBearer,
  registerTokenExchange,
  type JwtIssuer,
  type ResourceServers,
} from './oidc-grants.js';

type Features = NonNullable<Configuration['features']>;

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
  /** When it arrived, epoch ms. */
  time: number;
}

/** The device flow's token grant type (RFC 8628 §3.4). */
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface OidcProviderHandle {
  issuer: string;
  /** With `tls`: the base URL of the listener that asks for client certificates (the mTLS aliases). */
  mtlsBase?: string;
  /** With `resourceServers`: the public keys JWT access tokens are signed with. */
  jwks?: { keys: JsonWebKey[] };
  requests: OidcRequest[];
  /** Token endpoint requests only. */
  tokenRequests(): OidcRequest[];
  /** Device flow polls only (token requests with the device code grant). */
  devicePolls(): OidcRequest[];
  /**
   * Device flow: approves the sign-in of `userCode` as `accountId` (default `user-1`) for
   * `scope` (default what the client asked for), as the verification page does on success.
   */
  approveDevice(userCode: string, accountId?: string): Promise<void>;
  /** Device flow: the user refused the sign-in of `userCode` (the next poll gets `access_denied`). */
  denyDevice(userCode: string): Promise<void>;
  /**
   * Device flow: the answers of the next polls that would get `authorization_pending`, in
   * order (e.g. `['slow_down']`): oidc-provider never sends `slow_down` by itself.
   */
  answerPendingPolls(errors: string[]): void;
  /** The next `times` token requests are answered only after `ms` (a slow server). */
  delayTokenRequests(ms: number, times?: number): void;
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
  /** Device flow (RFC 8628, always on): how long a device code lives, seconds. Default 600. */
  deviceCodeTtl?: number;
  /** Device flow: the `interval` the device authorization response gives (oidc-provider sends none by itself). */
  deviceInterval?: number;
  /**
   * Serve over https (the issuer) with this server certificate, plus a second https
   * listener that asks for client certificates, published as `mtls_endpoint_aliases`,
   * with RFC 8705 client authentication and certificate-bound access tokens on.
   * `ca` is the CA whose client certificates count as authorized (`tls_client_auth`).
   */
  tls?: { key: string; cert: string; ca: string };
  /** Resource indicators (RFC 8707) the provider knows: each issues JWT access tokens with `aud` the indicator. */
  resourceServers?: ResourceServers;
  /** Registers the token exchange grant (RFC 8693) for opaque access tokens this provider issued. */
  tokenExchange?: boolean;
  /** Registers the JWT bearer grant (RFC 7523 §2.1), trusting assertions from this issuer. */
  jwtBearer?: JwtIssuer;
}

/**
 * Starts oidc-provider with client credentials, PKCE (required for public clients),
 * the device flow, refresh token rotation, revocation and dev interactions (a login +
 * consent form).
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProviderHandle> {
  const { server, mtlsServer, issuer, mtlsBase, close } = await listeners(options.tls);
  const signing = options.resourceServers ? rsaSigningKey() : undefined;
  const Provider = await loadProvider();
  const provider = new Provider(issuer, providerConfiguration(options, mtlsBase, signing?.private));
  const device = deviceFlowLevers(provider, options.deviceInterval);
  const { errors } = await import('oidc-provider');
  if (options.tokenExchange) registerTokenExchange(provider, options.resourceServers ?? {}, errors);
  if (options.jwtBearer)
    registerJwtBearer(provider, options.resourceServers ?? {}, errors, options.jwtBearer);
  const { requests, record } = requestRecorder(issuer, provider.callback());
  server.on('request', record);
  mtlsServer?.on('request', record);
  return {
    issuer,
    ...(mtlsBase ? { mtlsBase } : {}),
    ...(signing ? { jwks: { keys: [signing.public] } } : {}),
    requests,
    tokenRequests: () => requests.filter((r) => r.path === '/token'),
    devicePolls: () =>
      requests.filter((r) => r.path === '/token' && r.form.get('grant_type') === DEVICE_CODE_GRANT),
    ...device,
    mintAccessToken: (accountId, clientId) => mintAccessToken(provider, accountId, clientId),
    close,
  };
}

/**
 * The listeners on 127.0.0.1: http, or with `tls` https plus a second https listener that
 * asks for client certificates (the mTLS aliases).
 */
async function listeners(tls: OidcProviderOptions['tls']) {
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }) : createServer();
  // rejectUnauthorized false: a self-signed client certificate must get through the
  // handshake; oidc-provider decides (certificateAuthorized, the registered x5c).
  const mtlsServer = tls
    ? createHttpsServer({
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: false,
      })
    : undefined;
  const listen = async (s: Server) => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `${tls ? 'https' : 'http'}://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const stop = (s: Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  const issuer = await listen(server);
  const mtlsBase = mtlsServer ? await listen(mtlsServer) : undefined;
  const close = async () => {
    await Promise.all([server, ...(mtlsServer ? [mtlsServer] : [])].map(stop));
  };
  return { server, mtlsServer, issuer, mtlsBase, close };
}

/** oidc-provider's configuration for the options: what every test server has, and what the options add. */
function providerConfiguration(
  options: OidcProviderOptions,
  mtlsBase: string | undefined,
  signingKey: JsonWebKey | undefined,
): Configuration {
  return {
    clients: options.clients,
    ...(signingKey ? { jwks: { keys: [signingKey] } } : {}),
    ...(mtlsBase ? mutualTlsConfiguration(mtlsBase) : {}),
    features: {
      ...(mtlsBase ? { mTLS: mutualTlsFeature() } : {}),
      ...(options.resourceServers ? { resourceIndicators: resourceIndicators(options.resourceServers) } : {}),
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
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
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      ClientCredentials: options.accessTokenTtl ?? 3600,
      DeviceCode: options.deviceCodeTtl ?? 600,
    },
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
  };
}

/** Hands every request to `callback`, recording it (headers and body) as it goes. */
function requestRecorder(
  issuer: string,
  callback: ReturnType<InstanceType<typeof ProviderClass>['callback']>,
): { requests: OidcRequest[]; record: (req: IncomingMessage, res: ServerResponse) => void } {
  const requests: OidcRequest[] = [];
  const record = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const push = req.push.bind(req);
    // The HTTP parser feeds the body through push(); record it without consuming it.
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk) chunks.push(Buffer.from(chunk as Uint8Array));
      return push(chunk, encoding);
    };
    const recorded: OidcRequest = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', issuer).pathname,
      headers: req.headers,
      body: Buffer.alloc(0),
      form: new URLSearchParams(),
      time: Date.now(),
    };
    requests.push(recorded);
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks);
      if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        recorded.form = new URLSearchParams(recorded.body.toString());
      }
    });
    void callback(req, res);
  };
  return { requests, record };
}

/** An opaque access token for `accountId` to `clientId`, as a sign-in would issue (a subject token to exchange). */
async function mintAccessToken(
  provider: InstanceType<typeof ProviderClass>,
  accountId: string,
  clientId: string,
): Promise<string> {
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
}

/** An RS256 key pair as JWKs: JWT access tokens are signed with it, a resource server checks them. */
function rsaSigningKey(): { private: JsonWebKey; public: JsonWebKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const common = { kid: 'rs256-test', use: 'sig', alg: 'RS256' };
  return {
    private: { ...privateKey.export({ format: 'jwk' }), ...common },
    public: { ...publicKey.export({ format: 'jwk' }), ...common },
  };
}

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
 * RFC 8705 on oidc-provider: both client authentication methods listed (the feature flags
 * alone leave them refused), and the second listener advertised as the mTLS aliases.
 */
function mutualTlsConfiguration(mtlsBase: string): Pick<Configuration, 'clientAuthMethods' | 'discovery'> {
  return {
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
      'tls_client_auth',
      'self_signed_tls_client_auth',
    ],
    discovery: {
      mtls_endpoint_aliases: {
        token_endpoint: `${mtlsBase}/token`,
        revocation_endpoint: `${mtlsBase}/token/revocation`,
        introspection_endpoint: `${mtlsBase}/token/introspection`,
        userinfo_endpoint: `${mtlsBase}/me`,
      },
    },
  };
}

/** oidc-provider types the socket as a plain Socket; on the https listeners it is a TLSSocket. */
const tlsSocket = (ctx: { socket: unknown }): Partial<TLSSocket> => ctx.socket as Partial<TLSSocket>;
const peerCertificate = (ctx: { socket: unknown }): X509Certificate | undefined =>
  tlsSocket(ctx).getPeerX509Certificate?.();

function mutualTlsFeature(): Features['mTLS'] {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx) => peerCertificate(ctx),
    // tls_client_auth: the chain checked against `tls.ca` by the https server.
    certificateAuthorized: (ctx) => tlsSocket(ctx).authorized === true,
    certificateSubjectMatches: (ctx, property, expected) =>
      property === 'tls_client_auth_san_dns' &&
      (peerCertificate(ctx)?.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`),
  };
}

/** The device flow's levers a test pulls: decide for the user, answer polls, slow the server. */
type DeviceLevers = Pick<
  OidcProviderHandle,
  'approveDevice' | 'denyDevice' | 'answerPendingPolls' | 'delayTokenRequests'
>;

/**
 * Installs the device flow's test middleware on `provider` (an `interval` in the device
 * authorization response, injected poll answers, slow token requests) and returns its levers.
 * Approval and denial do what oidc-provider's verification page does on a decision.
 */
function deviceFlowLevers(
  provider: InstanceType<typeof ProviderClass>,
  interval: number | undefined,
): DeviceLevers {
  const pendingAnswers: string[] = [];
  const tokenDelays: number[] = [];
  provider.use(async (ctx, next) => {
    const delay = ctx.path === '/token' ? tokenDelays.shift() : undefined;
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.path === '/device/auth' && ctx.status === 200 && interval !== undefined)
      ctx.body = { ...body, interval };
    const params = (ctx as { oidc?: { params?: Record<string, unknown> } }).oidc?.params;
    if (
      ctx.path === '/token' &&
      params?.grant_type === DEVICE_CODE_GRANT &&
      body?.error === 'authorization_pending' &&
      pendingAnswers.length
    )
      ctx.body = { error: pendingAnswers.shift(), error_description: 'injected by the test' };
  });
  /** oidc-provider stores user codes normalised: upper case, no separators. */
  const deviceCodeOf = async (userCode: string) => {
    const code = await provider.DeviceCode.findByUserCode(userCode.toUpperCase().replace(/\W/g, ''));
    if (!code) throw new Error(`no device code for user code ${userCode}`);
    return code;
  };
  return {
    async approveDevice(userCode, accountId = 'user-1') {
      const code = await deviceCodeOf(userCode);
      const scope = code.params?.scope ? String(code.params.scope) : 'openid';
      const grant = new provider.Grant({ accountId, clientId: code.clientId });
      grant.addOIDCScope(scope);
      Object.assign(code, {
        accountId,
        grantId: await grant.save(),
        scope,
        authTime: Math.floor(Date.now() / 1000),
      });
      await code.save();
    },
    async denyDevice(userCode) {
      const code = await deviceCodeOf(userCode);
      Object.assign(code, { error: 'access_denied', errorDescription: 'End-User denied the request' });
      await code.save();
    },
    answerPendingPolls(errors) {
      pendingAnswers.push(...errors);
    },
    delayTokenRequests(ms, times = 1) {
      for (let i = 0; i < times; i += 1) tokenDelays.push(ms);
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
