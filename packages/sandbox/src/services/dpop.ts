// DPoP (RFC 9449) as a server checks it: the proof's header (typ, alg, a public JWK), its
// signature, htm and htu, iat, jti replay, ath against the token, the key's thumbprint
// against the token's binding, and the server's nonce when nonces are required.
import { createHash, createPublicKey, verify, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import type { Exchange } from '../http.js';
import { randomToken } from '../state.js';
import { schemeOf } from './mtls.js';

/** Proof algorithms the sandbox accepts, with how node:crypto verifies each. */
const ALGORITHMS: Record<string, { hash: string | null; ec?: boolean; pss?: boolean }> = {
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  RS256: { hash: 'sha256' },
  PS256: { hash: 'sha256', pss: true },
  EdDSA: { hash: null },
};
/** How far a proof's `iat` may be from now. */
const IAT_WINDOW_SECONDS = 60;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** What the sandbox remembers of DPoP: proof ids seen, and the current nonce. */
export interface DPoPMemory {
  /** jti → when it was seen (epoch s). */
  jtis: Map<string, number>;
  /** Whether proofs must carry the server's nonce. */
  requireNonce: boolean;
  /** The nonce proofs must carry now. */
  nonce: string;
}

/** A new DPoP memory. */
export function dpopMemory(requireNonce: boolean): DPoPMemory {
  return { jtis: new Map(), requireNonce, nonce: randomToken(16) };
}

/** The RFC 7638 thumbprint of a public JWK. */
function thumbprint(jwk: NodeJsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'OKP'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function decode(part: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Why a proof was refused: a bad proof, or only a missing / stale nonce (`use_dpop_nonce`). */
export type ProofRefusal = { error: 'invalid_dpop_proof' | 'use_dpop_nonce'; description: string };

/**
 * Checks the `DPoP` header of a request. `htu` is the URL the proof must name (without
 * query or fragment); `accessToken`, when the request carries one, must hash to `ath`.
 * Returns the key's thumbprint, or why the proof is refused.
 */
export function checkProof(
  ex: Exchange,
  memory: DPoPMemory,
  htu: string,
  accessToken?: string,
): { jkt: string } | ProofRefusal {
  const bad = (description: string): ProofRefusal => ({ error: 'invalid_dpop_proof', description });
  const header = ex.req.headers.dpop;
  if (typeof header !== 'string' || !header) return bad('A DPoP proof is required');
  const parts = header.split('.');
  const head = decode(parts[0]);
  const claims = decode(parts[1]);
  if (parts.length !== 3 || !head || !claims) return bad('The DPoP proof is not a JWT');
  if (head.typ !== 'dpop+jwt') return bad('The DPoP proof must have typ dpop+jwt');
  const alg = typeof head.alg === 'string' ? ALGORITHMS[head.alg] : undefined;
  if (!alg) return bad(`The DPoP proof's alg ${String(head.alg)} is not accepted`);
  const jwk = head.jwk as NodeJsonWebKey | undefined;
  if (typeof jwk !== 'object' || jwk === null) return bad('The DPoP proof has no jwk');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) return bad('The DPoP proof jwk contains a private key');
  let valid = false;
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, 'base64url');
    valid = verify(
      alg.hash,
      data,
      alg.ec
        ? { key, dsaEncoding: 'ieee-p1363' }
        : alg.pss
          ? { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }
          : key,
      signature,
    );
  } catch {
    valid = false;
  }
  if (!valid) return bad('The DPoP proof signature does not verify');
  if (claims.htm !== ex.req.method) return bad(`The DPoP proof's htm must be ${ex.req.method}`);
  if (claims.htu !== htu) return bad(`The DPoP proof's htu must be ${htu}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== 'number' || Math.abs(claims.iat - now) > IAT_WINDOW_SECONDS)
    return bad('The DPoP proof is too old or from the future (iat)');
  if (typeof claims.jti !== 'string' || !claims.jti) return bad('The DPoP proof has no jti');
  for (const [seen, at] of memory.jtis) if (at < now - IAT_WINDOW_SECONDS * 2) memory.jtis.delete(seen);
  if (memory.jtis.has(claims.jti)) return bad('The DPoP proof was already used (jti replay)');
  if (accessToken !== undefined) {
    const ath = createHash('sha256').update(accessToken).digest('base64url');
    if (claims.ath !== ath) return bad("The DPoP proof's ath does not match the access token");
  }
  if (memory.requireNonce && claims.nonce !== memory.nonce) {
    return {
      error: 'use_dpop_nonce',
      description: claims.nonce === undefined ? 'A DPoP nonce is required' : 'The DPoP nonce is stale',
    };
  }
  memory.jtis.set(claims.jti, now);
  return { jkt: thumbprint(jwk) };
}

/** The `DPoP-Nonce` header every response carries when nonces are required (RFC 9449 §8.2). */
export function nonceHeader(memory: DPoPMemory): Record<string, string> {
  return memory.requireNonce ? { 'DPoP-Nonce': memory.nonce } : {};
}

/**
 * DPoP on a token request (RFC 9449 §5), as every token endpoint of the sandbox takes
 * it: a request with a proof (checked against this endpoint's URL) gets a token bound to
 * the proof's key, one without a Bearer token. A bad proof: the OAuth error to send back.
 */
export function tokenRequestBinding(
  ex: Exchange,
  memory: DPoPMemory,
): { jkt?: string } | { error: string; description: string } {
  if (ex.req.headers.dpop === undefined) return {};
  const proof = checkProof(
    ex,
    memory,
    `${schemeOf(ex.req)}://${ex.req.headers.host ?? '127.0.0.1'}${ex.url.pathname}`,
  );
  return 'error' in proof ? proof : { jkt: proof.jkt };
}
