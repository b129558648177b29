// Helpers shared by the sandbox's own tests: real HTTP with global fetch, no mocks.
import { createHash, randomBytes } from 'node:crypto';
import { demoClients, type Sandbox } from '@authrail/sandbox';

/** A form body. */
export const form = (fields: Record<string, string>) => new URLSearchParams(fields);

/** An RFC 6749 §2.3.1 Basic header: id and secret form-urlencoded, then Base64. */
export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A bearer Authorization header. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The JSON body of a response, typed loosely for assertions. */
export const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

/** A PKCE S256 verifier and its challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An MSK token request (demo client, client_secret_post), `extra` overriding fields. */
export function mskTokenRequest(sb: Sandbox, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(sb.urls.mskApim.tokenEndpoint, {
    method: 'POST',
    body: form({
      grant_type: 'client_credentials',
      scope: 'full',
      client_id: demoClients.mskApim.clientId,
      client_secret: demoClients.mskApim.clientSecret,
      ...extra,
    }),
  });
}

/** An Okta token request with Basic client authentication. */
export function oktaTokenRequest(
  sb: Sandbox,
  scope = 'ctrp.accrual',
  auth = basic(demoClients.okta.clientId, demoClients.okta.clientSecret),
): Promise<Response> {
  return fetch(sb.urls.okta.tokenEndpoint, {
    method: 'POST',
    headers: { Authorization: auth, Accept: 'application/json' },
    body: form({ grant_type: 'client_credentials', scope }),
  });
}

/** A Medblocks backend (client credentials, Basic) token request. */
export function medblocksTokenRequest(sb: Sandbox): Promise<Response> {
  return fetch(sb.urls.medblocks.tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: basic(demoClients.medblocksBackend.clientId, demoClients.medblocksBackend.clientSecret),
    },
    body: form({ grant_type: 'client_credentials' }),
  });
}

/** An access token of each service. */
export const tokenOf = {
  mskApim: async (sb: Sandbox) => (await json(await mskTokenRequest(sb))).access_token as string,
  okta: async (sb: Sandbox, scope = 'ctrp.accrual') =>
    (await json(await oktaTokenRequest(sb, scope))).access_token as string,
  medblocks: async (sb: Sandbox) => (await json(await medblocksTokenRequest(sb))).access_token as string,
};

/** Waits. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
