// The platform's side, for the sandbox: what kubelet does for a projected service-account
// token, here for the sandbox's SMART server, which trusts the demo client's key. It signs
// a fresh assertion (iss = sub = the client, aud = the token endpoint, 5 minutes, a new jti)
// and writes it to the file atomically (write, then rename), as kubelet swaps its files.
import { rename, writeFile } from 'node:fs/promises';
import { demoClients } from '@authrail/sandbox';

const b64url = (data: string | ArrayBuffer) =>
  Buffer.from(typeof data === 'string' ? data : new Uint8Array(data)).toString('base64url');

/** Signs one assertion with the demo SMART backend key (ES384; fake, local only). */
async function signAssertion(tokenEndpoint: string, lifetimeSeconds = 300): Promise<string> {
  const key = await crypto.subtle.importKey(
    'jwk',
    { ...demoClients.smartBackend.privateJwk },
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  );
  const now = Math.floor(Date.now() / 1000);
  const clientId = demoClients.smartBackend.clientId;
  const header = b64url(JSON.stringify({ alg: 'ES384', typ: 'JWT', kid: demoClients.smartBackend.kid }));
  const claims = b64url(
    JSON.stringify({
      iss: clientId,
      sub: clientId,
      aud: tokenEndpoint,
      iat: now,
      exp: now + lifetimeSeconds,
      jti: crypto.randomUUID(),
    }),
  );
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-384' },
    key,
    new TextEncoder().encode(`${header}.${claims}`),
  );
  return `${header}.${claims}.${b64url(signature)}`;
}

/** Writes a fresh assertion to `path` the way kubelet does: a new file renamed over the old. */
export async function rotateAssertion(path: string, tokenEndpoint: string): Promise<string> {
  const assertion = await signAssertion(tokenEndpoint);
  await writeFile(`${path}.tmp`, `${assertion}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return assertion;
}
