// Keys for SMART Backend Services, on WebCrypto only (so they work in every runtime):
// create a pair for development, import one from a PEM or a JWK, and publish the public
// half as the JWKS the FHIR server registers.
import { ConfigError } from '@authrail/core';

/** The two signing algorithms SMART Backend Services require servers to support. */
export type SmartAlgorithm = 'RS384' | 'ES384';

function importParameters(alg: SmartAlgorithm): RsaHashedImportParams | EcKeyImportParams {
  return alg === 'RS384'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }
    : { name: 'ECDSA', namedCurve: 'P-384' };
}

function checkAlgorithm(alg: unknown, option: string): SmartAlgorithm {
  if (alg !== 'RS384' && alg !== 'ES384')
    throw new ConfigError("must be 'RS384' or 'ES384' (what SMART servers support)", { option });
  return alg;
}

/**
 * The SMART algorithm a WebCrypto key signs with: RS384 for an RSASSA-PKCS1-v1_5
 * SHA-384 key, ES384 for an ECDSA P-384 key, undefined for any other.
 */
export function algorithmOf(key: CryptoKey): SmartAlgorithm | undefined {
  const algorithm = key.algorithm as Partial<RsaHashedKeyAlgorithm & EcKeyAlgorithm>;
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.hash?.name === 'SHA-384') return 'RS384';
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-384') return 'ES384';
  return undefined;
}

/** A signing key pair and the `kid` it is registered under. */
export interface SigningKey {
  /** The private key: signs client assertions. Never leaves your service. */
  privateKey: CryptoKey;
  /** The public key: what the FHIR server registers (see {@link publicJwks}). */
  publicKey: CryptoKey;
  /** The key id: the RFC 7638 thumbprint of the public key unless you chose one. */
  kid: string;
  /** The algorithm it signs with. */
  alg: SmartAlgorithm;
}

function base64url(bytes: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The RFC 7638 JWK thumbprint (SHA-256) of a public JWK: a stable `kid`. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(members))));
}

/**
 * Creates a key pair for SMART Backend Services, for development and tests: ES384 (P-384)
 * by default, or RS384 (RSA 2048). The `kid` is the public key's RFC 7638 thumbprint
 * unless given. Extractable, so it can be saved (`crypto.subtle.exportKey('jwk', …)`);
 * the `authrail-smart keygen` command writes one to a file. For production, create the
 * key where it will live (a KMS, an HSM) and use a signer.
 *
 * @param options - `alg` (default `ES384`) and `kid`
 * @returns the pair, its `kid` and `alg`
 * @throws `ConfigError` naming `alg` or `kid`
 * @example
 * ```ts
 * const key = await generateSigningKey({ alg: 'ES384' });
 * console.log(JSON.stringify(await publicJwks([key]))); // register this with the FHIR server
 * const privateKey = { key: key.privateKey, kid: key.kid };
 * const strategy = smartBackendServices({ fhirBaseUrl, clientId, privateKey, scope: 'system/Patient.rs' });
 * ```
 */
export async function generateSigningKey(
  options: {
    /** `ES384` (default) or `RS384`. */
    alg?: SmartAlgorithm;
    /** The key id. Default: the RFC 7638 thumbprint of the public key. */
    kid?: string;
  } = {},
): Promise<SigningKey> {
  const alg = checkAlgorithm(options.alg ?? 'ES384', 'alg');
  if (options.kid !== undefined && (typeof options.kid !== 'string' || !options.kid))
    throw new ConfigError('must be a non-empty string when given', { option: 'kid' });
  const generated =
    alg === 'RS384'
      ? {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-384',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
        }
      : { name: 'ECDSA', namedCurve: 'P-384' };
  const pair = (await crypto.subtle.generateKey(generated, true, ['sign', 'verify'])) as CryptoKeyPair;
  const kid = options.kid ?? (await thumbprint(await crypto.subtle.exportKey('jwk', pair.publicKey)));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, kid, alg };
}

/** A public key as the FHIR server registers it. */
export interface PublicJwk extends JsonWebKey {
  /** The key id the assertions name. */
  kid: string;
  /** `RS384` or `ES384`. */
  alg: SmartAlgorithm;
  /** Always `sig`. */
  use: 'sig';
}

/** A JSON Web Key Set of public keys, as FHIR servers register it. */
export interface Jwks {
  /** The public keys. */
  keys: PublicJwk[];
}

/** A private key imported by {@link importPrivateKey}: the shape the `privateKey` option takes. */
export interface ImportedKey {
  /** The private key; not extractable. */
  key: CryptoKey;
  /** The key id registered with the server, when known. */
  kid?: string;
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/**
 * The JWKS to register with the FHIR server (or publish at your JWKS URL): the public
 * half of each key, with its `kid`, `alg` and `use: "sig"`. No private member is ever
 * included. Keep the old key in the set while rotating, so assertions signed with
 * either verify.
 *
 * @param keys - public keys with their `kid` (a {@link SigningKey} fits)
 * @returns `{ keys: [...] }`
 * @throws `ConfigError` naming `keys` when one is not an RS384 / ES384 public key with a kid
 * @example
 * ```ts
 * const jwks = await publicJwks([current, previous]);
 * ```
 */
export async function publicJwks(keys: readonly { publicKey: CryptoKey; kid: string }[]): Promise<Jwks> {
  if (!Array.isArray(keys))
    throw new ConfigError('must be an array of { publicKey, kid }', { option: 'keys' });
  const out: PublicJwk[] = [];
  for (const entry of keys as readonly { publicKey?: unknown; kid?: unknown }[]) {
    const { publicKey, kid } = entry ?? {};
    if (!(publicKey instanceof CryptoKey) || publicKey.type !== 'public' || typeof kid !== 'string' || !kid)
      throw new ConfigError('every entry needs a public CryptoKey and a kid', { option: 'keys' });
    const alg = algorithmOf(publicKey);
    if (!alg) throw new ConfigError(`the key ${kid} is neither RS384 nor ES384`, { option: 'keys' });
    const jwk = await crypto.subtle.exportKey('jwk', publicKey);
    const shown: Record<string, unknown> = {};
    for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) shown[member] = jwk[member];
    out.push({ ...shown, kid, alg, use: 'sig' } as PublicJwk);
  }
  return { keys: out };
}

/**
 * Imports a private key for `smartBackendServices`: a PKCS#8 PEM
 * (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes) or a private JWK (as
 * `authrail-smart keygen` writes). The result is not extractable: it can sign, never
 * be read back.
 *
 * @param input - the PEM text or the JWK
 * @param options - `alg` (needed for a PEM; read from a JWK's `alg` or key type otherwise) and `kid` (default: the JWK's `kid`)
 * @returns `{ key, kid }`, ready for the `privateKey` option
 * @throws `ConfigError` naming `privateKey` or `alg` when the key cannot be imported as one of SMART's
 * @example
 * ```ts
 * const privateKey = await importPrivateKey(process.env.SMART_PRIVATE_KEY_PEM!, { alg: 'RS384', kid: 'backend-2026' });
 * ```
 */
export async function importPrivateKey(
  input: string | (JsonWebKey & { kid?: string }),
  options: {
    /** `RS384` or `ES384`. */
    alg?: SmartAlgorithm;
    /** The key id registered with the server. */
    kid?: string;
  } = {},
): Promise<ImportedKey> {
  const jwk =
    typeof input === 'object' && input !== null ? (input as JsonWebKey & { kid?: unknown }) : undefined;
  const inferred = jwk?.alg ?? (jwk?.kty === 'EC' ? 'ES384' : jwk?.kty === 'RSA' ? 'RS384' : undefined);
  const alg = checkAlgorithm(options.alg ?? inferred, 'alg');
  const kid = options.kid ?? (typeof jwk?.kid === 'string' ? jwk.kid : undefined);
  let key: CryptoKey;
  try {
    if (jwk) {
      if (typeof jwk.d !== 'string') throw new Error('not a private JWK');
      const {
        kid: _kid,
        alg: _alg,
        use: _use,
        key_ops: _ops,
        ...material
      } = jwk as JsonWebKey & {
        kid?: unknown;
        use?: unknown;
      };
      key = await crypto.subtle.importKey('jwk', material, importParameters(alg), false, ['sign']);
    } else if (typeof input === 'string' && input.includes('-----BEGIN PRIVATE KEY-----')) {
      const body = input.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
      const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
      key = await crypto.subtle.importKey('pkcs8', der, importParameters(alg), false, ['sign']);
    } else {
      throw new Error('neither a PKCS#8 PEM nor a private JWK');
    }
  } catch {
    // The key material itself is never part of the message.
    throw new ConfigError(`must be a PKCS#8 PEM ("BEGIN PRIVATE KEY") or a private JWK of an ${alg} key`, {
      option: 'privateKey',
    });
  }
  return kid ? { key, kid } : { key };
}
