import * as client from 'openid-client';
import { ConfigError, toTokenEndpointError, type PresetOptions } from '@authrail/core';
import { assertionReader, type AssertionInput } from './assertion.js';
import type { GrantOptions } from './grant.js';

/** A secret, or a function that reads it (from a secret manager) — read again after `invalid_client`. */
export type SecretInput = string | (() => string | Promise<string>);

/** A private key for `private_key_jwt`: a WebCrypto `CryptoKey` (import a PEM with `crypto.subtle.importKey` or jose's `importPKCS8`), optionally with its `kid`. */
export type PrivateKeyInput =
  | CryptoKey
  | {
      /** The private signing key. */
      key: CryptoKey;
      /** Its key id, sent as the JWT header's `kid`. */
      kid?: string;
    };

/** The JOSE header of a client assertion, as given to an {@link AssertionSigner}. */
export interface AssertionHeader {
  /** The signing algorithm, e.g. `RS384` or `ES384`. */
  alg: string;
  /** The key id the server finds the public key by. */
  kid?: string;
  /** Always `JWT`. */
  typ: 'JWT';
}

/** The claims of a client assertion (RFC 7523 §3), as given to an {@link AssertionSigner}. */
export interface AssertionClaims {
  /** The client id. */
  iss: string;
  /** The client id. */
  sub: string;
  /** The token endpoint URL. */
  aud: string;
  /** A unique id per assertion (base64url of 32 random bytes): servers refuse a replay. */
  jti: string;
  /** Issued at, epoch seconds. */
  iat: number;
  /** Expiry, epoch seconds: 60 s after `iat` (SMART allows at most 5 minutes). */
  exp: number;
}

/**
 * Signs a client assertion with a key that never leaves its key manager (a cloud KMS,
 * an HSM): returns the compact JWS `base64url(header).base64url(claims).base64url(signature)`.
 * Called once per token request, with a fresh `jti`.
 *
 * @example
 * ```ts
 * const signer: AssertionSigner = {
 *   alg: 'ES384',
 *   kid: 'backend-2026',
 *   async sign(header, claims) {
 *     const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
 *     return `${input}.${b64url(await kms.sign(input))}`; // ES384: the raw r‖s signature
 *   },
 * };
 * ```
 */
export interface AssertionSigner {
  /** The JWS algorithm the key signs with: `RS384` or `ES384` for SMART, any your server accepts otherwise. */
  alg: string;
  /** The key id, sent as the header's `kid` (SMART requires one). */
  kid?: string;
  /** Returns the compact JWS of `header` and `claims`. */
  sign(header: AssertionHeader, claims: AssertionClaims): string | Promise<string>;
}

/**
 * How the client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523).
 * Build one with {@link clientSecretPost}, {@link clientSecretBasic}, {@link privateKeyJwt},
 * {@link tlsClientAuth}, {@link selfSignedTlsClientAuth} or {@link none}.
 */
export interface ClientAuthentication {
  /** The method's name as the specs spell it. */
  readonly method:
    | 'client_secret_post'
    | 'client_secret_basic'
    | 'private_key_jwt'
    | 'none'
    | 'tls_client_auth'
    | 'self_signed_tls_client_auth';
  /**
   * Internal: the openid-client authentication for one request, and the strings to
   * scrub from errors (in every encoding they travel in). `reread` reads a secret
   * function again (after `invalid_client`); `endpoint` is the token endpoint URL (a
   * client assertion's `aud`). Called once per token request.
   * @internal
   */
  prepare(
    reread: boolean,
    clientId: string,
    endpoint: string,
  ): Promise<{
    /** The openid-client authentication function. */
    auth: client.ClientAuth;
    /** Strings to scrub from errors. */
    secrets: string[];
    /** Whether reading the credential again may give another one (it is a function). */
    rotatable: boolean;
  }>;
}

/**
 * RFC 6749 §2.3.1's encoding of a Basic credential part (application/x-www-form-urlencoded,
 * as oauth4webapi applies it: `-_.!~*'()` escaped too, space as `+`).
 */
function formUrlEncode(token: string): string {
  return encodeURIComponent(token).replace(/(?:[-_.!~*'()]|%20)/g, (c) =>
    c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

interface SecretReader {
  (reread: boolean): Promise<string>;
  rotatable: boolean;
}

/** A lone UTF-16 surrogate: text that has no UTF-8 form, so no form encoding (RFC 6749 §2.3.1). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a secret cannot be sent (no UTF-8 form for the form encoding), or undefined when it can. */
function secretProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'no secret';
  if (LONE_SURROGATE.test(value)) return 'text that cannot be encoded (a lone surrogate)';
  return undefined;
}

function secretReader(secret: SecretInput, option: string): SecretReader {
  if (typeof secret === 'string') {
    if (secret.length === 0) throw new ConfigError('must be a non-empty string or a function', { option });
    const problem = secretProblem(secret);
    if (problem) throw new ConfigError(`is ${problem}`, { option, secrets: [secret] });
    return Object.assign(() => Promise.resolve(secret), { rotatable: false });
  }
  if (typeof secret !== 'function')
    throw new ConfigError('must be a non-empty string or a function', { option });
  let cached: Promise<string> | undefined;
  const read = (reread: boolean) => {
    if (reread || !cached) {
      // What the function returns is read at request time: a token-endpoint error then
      // (the grant maps this TypeError), never a ConfigError, which is for construction.
      cached = Promise.resolve()
        .then(secret)
        .then((value) => {
          const problem = secretProblem(value);
          if (problem) throw new TypeError(`the secret function returned ${problem}`);
          return value as string;
        });
      cached.catch(() => (cached = undefined));
    }
    return cached;
  };
  return Object.assign(read, { rotatable: true });
}

/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body (MSK APIM).
 *
 * @example
 * ```ts
 * clientSecretPost(process.env.MSK_CLIENT_SECRET!)
 * clientSecretPost(() => secrets.read('msk/client-secret')) // read again after invalid_client
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretPost(secret: SecretInput): ClientAuthentication {
  const read = secretReader(secret, 'clientSecret');
  return {
    method: 'client_secret_post',
    async prepare(reread) {
      const value = await read(reread);
      return { auth: client.ClientSecretPost(value), secrets: [value], rotatable: read.rotatable };
    },
  };
}

/**
 * `client_secret_basic`: HTTP Basic with the form-encoded id and secret (Okta, Medblocks backend).
 *
 * @example
 * ```ts
 * clientSecretBasic(process.env.CTRP_CLIENT_SECRET!)
 * clientSecretBasic(async () => (await vault.read('ctrp')).secret) // read again after invalid_client
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(secret: SecretInput): ClientAuthentication {
  const read = secretReader(secret, 'clientSecret');
  return {
    method: 'client_secret_basic',
    async prepare(reread, clientId) {
      const value = await read(reread);
      // What travels: the id and secret form-encoded (RFC 6749 §2.3.1), then base64. A
      // server that echoes either (the bare credential, without "Basic ") must not leave it
      // in an error. Form-encoding first makes any secret ASCII, so btoa never throws.
      const encoded = formUrlEncode(value);
      const credential = btoa(`${formUrlEncode(clientId)}:${encoded}`);
      return {
        auth: client.ClientSecretBasic(value),
        secrets: [value, encoded, credential],
        rotatable: read.rotatable,
      };
    },
  };
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A compact JWS: three base64url parts. */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;

function isSigner(value: unknown): value is AssertionSigner {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { sign?: unknown }).sign === 'function' &&
    !((value as { key?: unknown }).key instanceof CryptoKey)
  );
}

function checkSigner(signer: AssertionSigner): AssertionSigner {
  if (typeof signer.alg !== 'string' || !/^[A-Z][A-Za-z0-9]{2,}$/.test(signer.alg) || signer.alg === 'none')
    throw new ConfigError('must be a JWS algorithm such as RS384 or ES384', { option: 'signer.alg' });
  if (signer.kid !== undefined && (typeof signer.kid !== 'string' || !signer.kid))
    throw new ConfigError('must be a non-empty string when given', { option: 'signer.kid' });
  return signer;
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** One assertion from a signer: fresh `jti`, `aud` the token endpoint, 60 s to live. */
async function signedAssertion(signer: AssertionSigner, clientId: string, endpoint: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const header: AssertionHeader = { alg: signer.alg, typ: 'JWT', ...(signer.kid ? { kid: signer.kid } : {}) };
  const claims: AssertionClaims = {
    iss: clientId,
    sub: clientId,
    aud: endpoint,
    jti: base64url(crypto.getRandomValues(new Uint8Array(32))),
    iat,
    exp: iat + 60,
  };
  const jws = await signer.sign(header, claims);
  if (typeof jws !== 'string' || !COMPACT_JWS.test(jws))
    throw new TypeError('it returned no compact JWS (header.claims.signature)');
  return jws;
}

/**
 * `private_key_jwt`: a signed JWT assertion (RFC 7523), as SMART on FHIR Backend
 * Services require. Its `aud` is the token endpoint URL (what SMART, Okta and OpenID
 * Connect ask for), its `jti` new for every token request, its `exp` 60 s ahead.
 *
 * The key is a WebCrypto `CryptoKey` (non-extractable keys work), optionally with its
 * `kid`; or a function returning one (a key manager), read again after
 * `invalid_client`; or an {@link AssertionSigner} that signs where the key lives (a
 * KMS or HSM), so the private key never enters the process.
 *
 * @example
 * ```ts
 * const key = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign']);
 * privateKeyJwt({ key, kid: 'backend-2026' })
 * privateKeyJwt({ alg: 'ES384', kid: 'backend-2026', sign: (header, claims) => kms.signJwt(header, claims) })
 * ```
 * @throws `ConfigError` naming `privateKey` (or `signer.alg`, `signer.kid`) when the key is not one
 * @see https://www.rfc-editor.org/rfc/rfc7523
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export function privateKeyJwt(
  key: PrivateKeyInput | AssertionSigner | (() => PrivateKeyInput | Promise<PrivateKeyInput>),
): ClientAuthentication {
  if (isSigner(key)) return signerAuth(checkSigner(key));
  if (typeof key !== 'function' && !isPrivateKeyInput(key)) {
    throw new ConfigError(
      'must be a CryptoKey, { key, kid }, a signer { alg, kid, sign }, or a function returning a key',
      { option: 'privateKey' },
    );
  }
  let cached: Promise<PrivateKeyInput> | undefined;
  return {
    method: 'private_key_jwt',
    async prepare(reread, _clientId, endpoint) {
      if (typeof key !== 'function') return keyAuthWithAudience(key, endpoint, false);
      if (reread || !cached) {
        cached = Promise.resolve()
          .then(key)
          .then((k) => {
            if (!isPrivateKeyInput(k)) throw new TypeError('the key function returned no CryptoKey'); // at request time: typed by the grant
            return k;
          });
        cached.catch(() => (cached = undefined));
      }
      return keyAuthWithAudience(await cached, endpoint, true);
    },
  };
}

function isPrivateKeyInput(k: unknown): k is PrivateKeyInput {
  return (
    k instanceof CryptoKey ||
    (typeof k === 'object' && k !== null && (k as { key?: unknown }).key instanceof CryptoKey)
  );
}

/** {@link privateKeyJwt} with an {@link AssertionSigner}: the assertion is signed where the key lives. */
function signerAuth(signer: AssertionSigner): ClientAuthentication {
  return {
    method: 'private_key_jwt',
    prepare(_reread, clientId, endpoint) {
      const secrets: string[] = [];
      // Signed when openid-client sends the request, so a second try (a DPoP nonce)
      // gets a new assertion with a new jti, as a server that refuses replays needs.
      const sign = async (
        _as: client.ServerMetadata,
        metadata: client.ClientMetadata,
        body: URLSearchParams,
      ): Promise<void> => {
        let assertion: string;
        try {
          assertion = await signedAssertion(signer, clientId, endpoint);
        } catch (error) {
          throw toTokenEndpointError(error, {
            endpoint,
            credential: 'the signer',
          });
        }
        secrets.push(assertion);
        body.set('client_id', metadata.client_id);
        body.set('client_assertion_type', JWT_BEARER);
        body.set('client_assertion', assertion);
      };
      return Promise.resolve({ auth: sign as unknown as client.ClientAuth, secrets, rotatable: false });
    },
  };
}

/**
 * openid-client signs the assertion (fresh `jti`) with `aud` set to the token
 * endpoint; the signed assertion joins the strings scrubbed from errors, as a server
 * may echo the form it received.
 */
function keyAuthWithAudience(
  k: PrivateKeyInput,
  endpoint: string,
  rotatable: boolean,
): { auth: client.ClientAuth; secrets: string[]; rotatable: boolean } {
  const secrets: string[] = [];
  // openid-client awaits a client authentication (its own PrivateKeyJwt is async); its type says void.
  type AsyncClientAuth = (...args: Parameters<client.ClientAuth>) => Promise<void>;
  const sign = client.PrivateKeyJwt(k, {
    [client.modifyAssertion]: (_header, payload) => {
      payload.aud = endpoint;
    },
  }) as unknown as AsyncClientAuth;
  const signAndKeep: AsyncClientAuth = async (as, metadata, body, headers) => {
    await sign(as, metadata, body, headers);
    const assertion = body.get('client_assertion');
    if (assertion) secrets.push(assertion);
  };
  const auth = signAndKeep as unknown as client.ClientAuth;
  return { auth, secrets, rotatable };
}

/**
 * A client assertion signed elsewhere (RFC 7523 §2.2, sent as `private_key_jwt`): the
 * workload-identity pattern, where the platform issues the workload a JWT (a Kubernetes
 * projected service-account token, a CI job's OIDC token) and the authorization server
 * trusts that issuer (Azure AD / Entra federated credentials, Okta, Keycloak). The
 * assertion is sent as it is, with `client_assertion_type`
 * `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`; a function (such as
 * {@link assertionFromFile}) is called for every token request and once more after
 * `invalid_client`, and an assertion past its `exp` is never sent.
 *
 * @param assertion - the JWT, or a function that reads it
 * @throws `ConfigError` naming `clientAssertion` when it is neither
 * @example
 * ```ts
 * const source = clientCredentials({
 *   server: { issuer: 'https://login.example.org', discovery: true },
 *   clientId: 'orders-workload',
 *   clientAuth: clientAssertion(assertionFromFile('/var/run/secrets/azure/tokens/azure-identity-token')),
 *   scope: 'api://orders/.default',
 * });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export function clientAssertion(assertion: AssertionInput): ClientAuthentication {
  const read = assertionReader(assertion, 'clientAssertion');
  return {
    method: 'private_key_jwt',
    async prepare(_reread, clientId) {
      // Read for every request (the reader itself skips an unchanged file), so a re-read
      // after invalid_client is the same call.
      const value = await read();
      const send = (_as: client.ServerMetadata, _metadata: client.ClientMetadata, body: URLSearchParams) => {
        body.set('client_id', clientId);
        body.set('client_assertion_type', JWT_BEARER);
        body.set('client_assertion', value);
      };
      return {
        auth: send as unknown as client.ClientAuth,
        secrets: [value],
        rotatable: typeof assertion === 'function',
      };
    },
  };
}

/**
 * `none`: a public client (a browser app) that proves possession with PKCE instead of a secret.
 *
 * @example
 * ```ts
 * authorizationCode({ server, clientId: 'my-spa', redirectUri, clientAuth: none() }) // none() is the default there
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export function none(): ClientAuthentication {
  return {
    method: 'none',
    prepare: () => Promise.resolve({ auth: client.None(), secrets: [], rotatable: false }),
  };
}

/** The two RFC 8705 methods: the TLS connection authenticates the client, the body only names it. */
function mutualTls(method: 'tls_client_auth' | 'self_signed_tls_client_auth'): ClientAuthentication {
  return {
    method,
    // openid-client's TlsClientAuth sends client_id and nothing secret: the certificate
    // travels in the TLS handshake, on the connection the grant's `fetch` opens.
    prepare: () => Promise.resolve({ auth: client.TlsClientAuth(), secrets: [], rotatable: false }),
  };
}

/**
 * `tls_client_auth`: the client proves who it is with a certificate from a CA the server
 * trusts, in the TLS handshake (RFC 8705 §2.1); the token request names the client and
 * carries no secret. The server registers the certificate's subject (a DN or a SAN).
 *
 * The certificate is not an option here: it goes in the `fetch` of the grant (in Node,
 * `createMtlsFetch` of `@authrail/node`). When the server publishes
 * `mtls_endpoint_aliases`, token and revocation requests go to those endpoints.
 * Access tokens it issues may be bound to the certificate (`cnf.x5t#S256`): send API
 * requests through the same `fetch`.
 *
 * @example
 * ```ts
 * const tls = createMtlsFetch({ cert: '/etc/tls/client.crt', key: '/etc/tls/client.key' });
 * clientCredentials({ server, clientId: 'orders', clientAuth: tlsClientAuth(), fetch: tls });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 */
export function tlsClientAuth(): ClientAuthentication {
  return mutualTls('tls_client_auth');
}

/**
 * `self_signed_tls_client_auth`: like {@link tlsClientAuth}, but the certificate is
 * self-signed and registered with the client itself (its `jwks` or `jwks_uri`, an `x5c`
 * entry), so no CA is involved (RFC 8705 §2.2).
 *
 * @example
 * ```ts
 * const tls = createMtlsFetch({ cert: '/etc/tls/self.crt', key: '/etc/tls/self.key' });
 * clientCredentials({ server, clientId: 'orders', clientAuth: selfSignedTlsClientAuth(), fetch: tls });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.2
 */
export function selfSignedTlsClientAuth(): ClientAuthentication {
  return mutualTls('self_signed_tls_client_auth');
}

/** Whether a client authentication is one of RFC 8705's: its requests go to the server's mTLS aliases. */
export function isMutualTls(auth: ClientAuthentication): boolean {
  return auth.method === 'tls_client_auth' || auth.method === 'self_signed_tls_client_auth';
}

export function checkClientAuth(value: unknown): ClientAuthentication {
  const auth = value as Partial<ClientAuthentication> | undefined;
  if (typeof auth?.prepare !== 'function' || typeof auth.method !== 'string') {
    throw new ConfigError(
      'must be clientSecretPost(…), clientSecretBasic(…), privateKeyJwt(…), clientAssertion(…), tlsClientAuth(), selfSignedTlsClientAuth() or none()',
      {
        option: 'clientAuth',
      },
    );
  }
  return auth as ClientAuthentication;
}

/**
 * What every preset on an OAuth client takes: core's {@link PresetOptions} (passed on
 * to `createAuthStrategy` as they are), the client id, and how its token requests are
 * made ({@link GrantOptions}: `fetch`, `maxResponseBytes`).
 *
 * @example
 * ```ts
 * export interface MyVendorOptions extends ClientPresetOptions { baseUrl: string }
 * ```
 */
export interface ClientPresetOptions extends PresetOptions, GrantOptions {
  /** The OAuth client id. */
  clientId: string;
}

/**
 * What every preset on a confidential client takes (`mskApim`, `oktaClientCredentials`,
 * `medblocksClientCredentials`): {@link ClientPresetOptions} and the client secret.
 *
 * @example
 * ```ts
 * const options: ClientSecretPresetOptions = { clientId: 'svc', clientSecret: () => vault.read('svc'), retry: { maxAttempts: 5 } };
 * ```
 */
export interface ClientSecretPresetOptions extends ClientPresetOptions {
  /** The client secret, or a function that reads it (a secret manager): read again once after `invalid_client`, so rotated credentials work without a restart. */
  clientSecret: SecretInput;
}
