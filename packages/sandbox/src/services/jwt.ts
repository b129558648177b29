// The one JWS verifier of the sandbox: SMART's client assertions and Okta's JWT bearer
// grant (RFC 7523 §2.1) check signatures here, against keys their issuers registered.
import { createPublicKey, verify, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';

/** A compact JWS split and decoded, not yet verified. */
export interface ParsedJws {
  /** The protected header. */
  header: Record<string, unknown>;
  /** The claims. */
  claims: Record<string, unknown>;
  /** The three compact parts. */
  parts: [string, string, string];
}

function decodePart(part: string | undefined): Record<string, unknown> | undefined {
  if (!part) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS; undefined when it is not one. */
export function parseJws(token: string): ParsedJws | undefined {
  const parts = token.split('.');
  const header = decodePart(parts[0]);
  const claims = decodePart(parts[1]);
  if (parts.length !== 3 || !header || !claims) return undefined;
  return { header, claims, parts: parts as [string, string, string] };
}

/** The hash of each algorithm the sandbox verifies (RSASSA-PKCS1-v1_5 and ECDSA). */
const HASHES: Readonly<Record<string, string>> = {
  RS256: 'sha256',
  RS384: 'sha384',
  ES256: 'sha256',
  ES384: 'sha384',
};

/**
 * Verifies a parsed JWS with the key of its `kid` among `keys`. `alg` must be one of
 * `algorithms` and fit the key. Returns undefined when the signature verifies, or the
 * reason it does not (`what` names the token in it, e.g. "The client assertion").
 */
export function signatureRefusal(
  jws: ParsedJws,
  keys: readonly NodeJsonWebKey[],
  algorithms: readonly string[],
  what: string,
): string | undefined {
  const { header, parts } = jws;
  const alg = header.alg;
  if (typeof alg !== 'string' || !algorithms.includes(alg) || !HASHES[alg])
    return `${what}'s alg must be ${algorithms.join(' or ')}, not ${String(alg)}`;
  if (typeof header.kid !== 'string' || !header.kid) return `${what} has no kid`;
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) return `No registered key has kid ${header.kid}`;
  if (alg.startsWith('ES') !== (jwk.kty === 'EC') || (jwk.alg !== undefined && jwk.alg !== alg))
    return `The key ${header.kid} is not an ${alg} key`;
  let valid = false;
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    valid = verify(
      HASHES[alg],
      data,
      alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key,
      signature,
    );
  } catch {
    valid = false;
  }
  return valid ? undefined : `${what} signature does not verify`;
}
