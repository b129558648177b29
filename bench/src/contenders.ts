// Everything the workloads of issue 11 run: authrail's adapters, its undici interceptor and the peers, each
// built fresh (an empty token cache) against the bench server's token endpoint and API.
// Every peer is set up the way its own docs show; where a peer leaves the token request to
// the user, `fetchTokenNaively` is that user code (no single flight of its own).
import { Agent as HttpAgent } from 'node:http';
import axios, { type AxiosInstance } from 'axios';
import { createAuthRefreshInterceptor } from 'axios-auth-refresh';
import ky from 'ky';
import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client';
import { withTokenRefresh } from 'fetch-extras';
import { Agent, request as undiciRequest } from 'undici';
import { createOidcInterceptor } from 'undici-oidc-interceptor';
import { createAuthStrategy, type TokenAuthStrategy } from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';
import { clientCredentials, clientSecretPost } from '@authrail/oauth2';

/** Where a contender sends: the bench server's origin, its token endpoint and its pool size. */
export interface BenchEnv {
  origin: string;
  tokenUrl: string;
  /** Connections per client: the workloads keep up to this many requests on the wire. */
  connections: number;
}

/** One client under test: GETs a path of the API and answers with the final status. */
export interface BenchClient {
  /** Resolves with the HTTP status the caller finally sees; rejects on a transport error. */
  get(path: string): Promise<number>;
  /**
   * authrail's own account of why each token was requested (its `tokenFetched` and
   * `tokenRefreshed` events), beside what the server counted: `refresh-ahead` means no
   * caller waited for it.
   */
  reasons?: Record<string, number>;
}

type Family = 'fetch' | 'ky' | 'axios' | 'undici';

export interface Contender {
  name: string;
  family: Family;
  /** A peer library rather than authrail. */
  peer: boolean;
  /** How the peer gets its tokens and what it does on a 401, in a few words, for the report. */
  how: string;
  create(env: BenchEnv): BenchClient;
}

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret';

function authrailStrategy(env: BenchEnv, reasons: Record<string, number>): TokenAuthStrategy {
  const count = ({ reason }: { reason: string }) => void (reasons[reason] = (reasons[reason] ?? 0) + 1);
  return createAuthStrategy({
    source: clientCredentials({
      server: { issuer: env.origin, tokenEndpoint: env.tokenUrl },
      clientId: CLIENT_ID,
      clientAuth: clientSecretPost(CLIENT_SECRET),
    }),
    origins: [env.origin],
    on: { tokenFetched: count, tokenRefreshed: count },
  });
}

/** The token request a user writes when the library leaves it to them: one per call. */
async function fetchTokenNaively(tokenUrl: string): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    }),
  });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

const httpAgents = new Map<number, HttpAgent>();
/** One keep-alive agent per pool size for every axios client: what a service configures. */
function httpAgent(connections: number): HttpAgent {
  let agent = httpAgents.get(connections);
  if (!agent)
    httpAgents.set(connections, (agent = new HttpAgent({ keepAlive: true, maxSockets: connections })));
  return agent;
}

function axiosFor(env: BenchEnv): AxiosInstance {
  return axios.create({ httpAgent: httpAgent(env.connections) });
}

/** axios throws for a 4xx by default; its error carries the response the caller sees. */
async function axiosStatus(send: () => Promise<{ status: number }>): Promise<number> {
  try {
    return (await send()).status;
  } catch (error) {
    const status = (error as { response?: { status?: unknown } }).response?.status;
    if (typeof status === 'number') return status;
    throw error;
  }
}

/** ky's HTTPError carries the response: its status is what the caller sees. */
async function kyStatus(send: () => Promise<Response>): Promise<number> {
  try {
    const response = await send();
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const status = (error as { response?: Response }).response?.status;
    if (typeof status === 'number') return status;
    throw error;
  }
}

async function fetchStatus(response: Promise<Response>): Promise<number> {
  const answered = await response;
  await answered.arrayBuffer();
  return answered.status;
}

export const CONTENDERS: Contender[] = [
  {
    name: '@authrail/fetch',
    family: 'fetch',
    peer: false,
    how: 'client credentials through openid-client; refresh ahead, single flight, 401 → replay once',
    create(env) {
      const reasons = {};
      const api = createAuthFetch(authrailStrategy(env, reasons));
      return { get: (path) => fetchStatus(api(`${env.origin}${path}`)), reasons };
    },
  },
  {
    name: '@authrail/ky',
    family: 'ky',
    peer: false,
    how: 'as @authrail/fetch, as ky’s transport (ky’s own retry defaults kept)',
    create(env) {
      const reasons = {};
      const api = createAuthKy(authrailStrategy(env, reasons), { ky });
      return { get: (path) => kyStatus(() => api.get(`${env.origin}${path}`)), reasons };
    },
  },
  {
    name: '@authrail/axios',
    family: 'axios',
    peer: false,
    how: 'as @authrail/fetch, wrapping the instance’s adapter',
    create(env) {
      const reasons = {};
      const api = axiosFor(env);
      attachAuth(api, authrailStrategy(env, reasons));
      return { get: (path) => axiosStatus(() => api.get(`${env.origin}${path}`)), reasons };
    },
  },
  {
    name: '@authrail/undici',
    family: 'undici',
    peer: false,
    how: 'as @authrail/fetch, as an undici interceptor: `undici.request` over an Agent composed with it',
    create(env) {
      const reasons = {};
      const dispatcher = new Agent({ connections: env.connections }).compose(
        authrail({ [env.origin]: authrailStrategy(env, reasons) }),
      );
      return {
        get: async (path) => {
          const response = await undiciRequest(`${env.origin}${path}`, { dispatcher });
          await response.body.arrayBuffer();
          return response.statusCode;
        },
        reasons,
      };
    },
  },
  {
    name: '@badgateway/oauth2-client OAuth2Fetch',
    family: 'fetch',
    peer: true,
    how: 'its client credentials grant; a new token once expired; 401 → new token, retried once',
    create(env) {
      const client = new OAuth2Client({
        server: `${env.origin}/`,
        tokenEndpoint: '/token',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        authenticationMethod: 'client_secret_post',
      });
      const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() });
      return { get: (path) => fetchStatus(wrapper.fetch(`${env.origin}${path}`)) };
    },
  },
  {
    name: 'fetch-extras withTokenRefresh',
    family: 'fetch',
    peer: true,
    how: 'the user keeps the token and requests it; on a 401 one shared refresh, retried once',
    create(env) {
      let token = '';
      const api = withTokenRefresh({
        refreshToken: async () => (token = await fetchTokenNaively(env.tokenUrl)),
      })(fetch);
      return {
        // No header until there is a token: its 401 path retries only a request without
        // one or with a bearer token.
        get: (path) =>
          fetchStatus(
            api(`${env.origin}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {}),
          ),
      };
    },
  },
  {
    name: 'undici-oidc-interceptor',
    family: 'undici',
    peer: true,
    how: 'client credentials; a new token 10 s before a JWT’s exp (30 s: in the background); 401 → retried once',
    create(env) {
      const dispatcher = new Agent({ connections: env.connections }).compose(
        createOidcInterceptor({
          idpTokenUrl: env.tokenUrl,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          retryOnStatusCodes: [401],
          urls: [env.origin],
        }),
      );
      return {
        get: async (path) => {
          const response = await undiciRequest(`${env.origin}${path}`, { dispatcher });
          await response.body.arrayBuffer();
          return response.statusCode;
        },
      };
    },
  },
  {
    name: 'ky docs’ refresh hook',
    family: 'ky',
    peer: true,
    how: 'ky’s FAQ: retry on 401 with a token fetched in beforeRetry (after ky’s retry delay); the user keeps the token',
    create(env) {
      let token = '';
      const api = ky.create({
        retry: { statusCodes: [401] },
        hooks: {
          beforeRequest: [({ request }) => void request.headers.set('Authorization', `Bearer ${token}`)],
          beforeRetry: [
            async ({ request }) => {
              token = await fetchTokenNaively(env.tokenUrl);
              request.headers.set('Authorization', `Bearer ${token}`);
            },
          ],
        },
      });
      return { get: (path) => kyStatus(() => api.get(`${env.origin}${path}`)) };
    },
  },
  {
    name: 'axios-auth-refresh',
    family: 'axios',
    peer: true,
    how: 'the user keeps the token and requests it; on a 401 one shared refresh, retried once',
    create(env) {
      let token = '';
      const api = axiosFor(env);
      api.interceptors.request.use((config) => {
        config.headers.Authorization = `Bearer ${token}`;
        return config;
      });
      createAuthRefreshInterceptor(
        api as never,
        async (failed: { response: { config: { headers: Record<string, string> } } }) => {
          token = await fetchTokenNaively(env.tokenUrl);
          failed.response.config.headers.Authorization = `Bearer ${token}`;
        },
      );
      return { get: (path) => axiosStatus(() => api.get(`${env.origin}${path}`)) };
    },
  },
];
