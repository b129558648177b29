// DPoP (RFC 9449) on openid-client: one key pair per token source, the proofs of its
// token requests made by openid-client, and the same handle (its nonce cache, its key)
// lent to core's request loop for the proofs of every resource request.
import * as client from 'openid-client';
import { ConfigError, type DPoPProver } from '@authrail/core';

/**
 * Asks for DPoP-bound tokens (RFC 9449): `true` creates an ES256 key pair for this
 * source (the private key not extractable), or give your own `CryptoKeyPair` (its public
 * key extractable). Tokens bound to the key are useless without it, so a stolen token
 * cannot be replayed from elsewhere.
 *
 * @example
 * ```ts
 * clientCredentials({ server, clientId, clientAuth, dpop: true })
 * ```
 */
export type DPoPOption = true | CryptoKeyPair;

/** The DPoP key of one token source: proofs for its token requests and for every request its tokens go on. */
export interface DPoPBinding extends DPoPProver {
  /** openid-client's handle, for token requests (made once, on first use). */
  handle(): Promise<client.DPoPHandle>;
  /** The JWK thumbprint of the public key (`dpop_jkt` of the code flow). */
  thumbprint(): Promise<string>;
  /** Stands for the key in the token store key: tokens bound to another key are other tokens. */
  readonly keyId: string;
}

/**
 * openid-client's handle with the two methods its own requests use to sign proofs and
 * keep nonces (oauth4webapi's DPoPHandler; its public type names only the thumbprint).
 * Checked when the handle is made, so another version fails loudly instead of silently.
 */
interface ProofHandle extends client.DPoPHandle {
  addProof(url: URL, headers: Headers, htm: string, accessToken?: string): Promise<void>;
  cacheNonce(response: Response, url: URL): void;
}

/** Ids of the key pairs given, so one pair keeps one id (and store key) in a process. */
const keyIds = new WeakMap<CryptoKey, string>();

function checkKeyPair(value: unknown): CryptoKeyPair {
  const pair = value as Partial<CryptoKeyPair> | null;
  if (
    typeof pair !== 'object' ||
    pair === null ||
    !(pair.privateKey instanceof CryptoKey) ||
    !(pair.publicKey instanceof CryptoKey) ||
    pair.privateKey.type !== 'private' ||
    !pair.publicKey.extractable
  )
    throw new ConfigError(
      'must be true, or a CryptoKeyPair whose public key is extractable (it goes in every proof)',
      { option: 'dpop' },
    );
  return pair as CryptoKeyPair;
}

/**
 * The binding for a source's `dpop` option, or undefined without one.
 *
 * @throws `ConfigError` naming `dpop`
 */
export function dpopBinding(option: unknown, clientId: string): DPoPBinding | undefined {
  if (option === undefined || option === false) return undefined;
  const given = option === true ? undefined : checkKeyPair(option);
  let keyId = given ? keyIds.get(given.privateKey) : undefined;
  if (given && !keyId) keyIds.set(given.privateKey, (keyId = crypto.randomUUID()));
  let made: Promise<ProofHandle> | undefined;
  let ready: ProofHandle | undefined;
  const handle = () =>
    (made ??= (async () => {
      const pair = given ?? (await client.randomDPoPKeyPair('ES256', { extractable: false }));
      // The handle only reads the client's clock skew from its configuration.
      const config = new client.Configuration({ issuer: 'urn:authrail:dpop' }, clientId);
      const made = client.getDPoPHandle(config, pair) as ProofHandle;
      if (typeof made.addProof !== 'function' || typeof made.cacheNonce !== 'function')
        throw new TypeError('this openid-client version cannot sign DPoP proofs for other requests');
      return (ready = made);
    })());
  return {
    keyId: keyId ?? crypto.randomUUID(),
    handle,
    async thumbprint() {
      return (await handle()).calculateThumbprint();
    },
    async addProof(url, headers, method, accessToken) {
      await (await handle()).addProof(url, headers, method, accessToken);
    },
    cacheNonce(response, url) {
      // Before the first proof there is no handle, and no nonce to remember yet.
      ready?.cacheNonce(response as Response, url);
    },
  };
}
