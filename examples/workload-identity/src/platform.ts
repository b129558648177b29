// The platform's side, for the sandbox: what kubelet does for a projected service-account
// token. It signs a fresh JWT and writes it to the file atomically (write, then rename), as
// kubelet swaps its files. Two platforms, one per way of using the file:
// - a client assertion for the sandbox's SMART server, which trusts the demo client's key
//   (iss = sub = the client, aud = the token endpoint, 5 minutes, a new jti);
// - a service-account token of the demo workload issuer, which the sandbox's Okta server
//   trusts for the JWT bearer grant (iss = the cluster, sub = the service account, aud = Okta).
import { rename, writeFile } from 'node:fs/promises';
import { demoClients } from '@authrail/sandbox';

const b64url = (data: string | ArrayBuffer) =>
  Buffer.from(typeof data === 'string' ? data : new Uint8Array(data)).toString('base64url');

/** Signs a JWT with a fake local ECDSA key (ES384 on P-384, ES256 on P-256). */
async function signJwt(
  jwk: JsonWebKey & { crv: 'P-256' | 'P-384' },
  kid: string,
  claims: Record<string, unknown>,
): Promise<string> {
  const [alg, hash] = jwk.crv === 'P-384' ? ['ES384', 'SHA-384'] : ['ES256', 'SHA-256'];
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: jwk.crv }, false, [
    'sign',
  ]);
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash }, key, new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

/** Writes `jwt` to `path` the way kubelet does: a new file renamed over the old. */
async function place(path: string, jwt: string): Promise<string> {
  await writeFile(`${path}.tmp`, `${jwt}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return jwt;
}

/** Writes a fresh client assertion of the demo SMART backend client (ES384) to `path`. */
export async function rotateAssertion(path: string, tokenEndpoint: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const clientId = demoClients.smartBackend.clientId;
  const claims = { iss: clientId, sub: clientId, aud: tokenEndpoint, iat: now, exp: now + 300 };
  const jwk = { ...demoClients.smartBackend.privateJwk };
  return place(
    path,
    await signJwt(jwk, demoClients.smartBackend.kid, { ...claims, jti: crypto.randomUUID() }),
  );
}

/**
 * Writes a fresh service-account token of the demo workload issuer (ES256) to `path`, for
 * `audience` (the authorization server), valid `lifetimeSeconds` (negative: already expired).
 */
export async function rotateServiceAccountToken(
  path: string,
  audience: string,
  lifetimeSeconds = 600,
): Promise<string> {
  const issuer = demoClients.workloadIssuer;
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer.issuer,
    sub: issuer.subject,
    aud: audience,
    iat: Math.min(now, now + lifetimeSeconds - 60),
    exp: now + lifetimeSeconds,
    jti: crypto.randomUUID(),
  };
  return place(path, await signJwt({ ...issuer.privateJwk }, issuer.kid, claims));
}
