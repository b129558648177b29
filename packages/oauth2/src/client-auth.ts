import * as client from 'openid-client';
import { ConfigError, type ProviderOptions } from '@authrail/core';
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

/**
 * How the client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523).
 * Build one with {@link clientSecretPost}, {@link clientSecretBasic}, {@link privateKeyJwt} or {@link none}.
 */
export interface ClientAuthentication {
  /** The method's name as the specs spell it. */
  readonly method: 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt' | 'none';
  /**
   * Internal: the openid-client authentication for one request, and the strings to
   * scrub from errors (in every encoding they travel in). `reread` reads a secret
   * function again (after `invalid_client`).
   * @internal
   */
  prepare(
    reread: boolean,
    clientId: string,
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

function checkSecret(value: unknown, option: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`${what} no secret`, { option });
  if (LONE_SURROGATE.test(value))
    throw new ConfigError(`${what} text that cannot be encoded (a lone surrogate)`, {
      option,
      secrets: [value],
    });
  return value;
}

function secretReader(secret: SecretInput, option: string): SecretReader {
  if (typeof secret === 'string') {
    if (secret.length === 0) throw new ConfigError('must be a non-empty string or a function', { option });
    checkSecret(secret, option, 'is');
    return Object.assign(() => Promise.resolve(secret), { rotatable: false });
  }
  if (typeof secret !== 'function')
    throw new ConfigError('must be a non-empty string or a function', { option });
  let cached: Promise<string> | undefined;
  const read = (reread: boolean) => {
    if (reread || !cached) {
      cached = Promise.resolve()
        .then(secret)
        .then((value) => checkSecret(value, option, 'the secret function returned'));
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

/**
 * `private_key_jwt`: a signed JWT assertion (RFC 7523), as SMART on FHIR Backend
 * Services require. The key may come from a function (a key manager), read again after `invalid_client`.
 *
 * @example
 * ```ts
 * const key = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
 * privateKeyJwt({ key, kid: 'backend-2026' })
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7523
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export function privateKeyJwt(
  key: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>),
): ClientAuthentication {
  const valid = (k: unknown): k is PrivateKeyInput =>
    k instanceof CryptoKey ||
    (typeof k === 'object' && k !== null && (k as { key?: unknown }).key instanceof CryptoKey);
  if (typeof key !== 'function' && !valid(key)) {
    throw new ConfigError('must be a CryptoKey, { key, kid }, or a function returning one', {
      option: 'privateKey',
    });
  }
  let cached: Promise<PrivateKeyInput> | undefined;
  return {
    method: 'private_key_jwt',
    async prepare(reread) {
      if (typeof key !== 'function')
        return { auth: client.PrivateKeyJwt(key), secrets: [], rotatable: false };
      if (reread || !cached) {
        cached = Promise.resolve()
          .then(key)
          .then((k) => {
            if (!valid(k))
              throw new ConfigError('the key function returned no CryptoKey', { option: 'privateKey' });
            return k;
          });
        cached.catch(() => (cached = undefined));
      }
      return { auth: client.PrivateKeyJwt(await cached), secrets: [], rotatable: true };
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

export function checkClientAuth(value: unknown): ClientAuthentication {
  const auth = value as Partial<ClientAuthentication> | undefined;
  if (typeof auth?.prepare !== 'function' || typeof auth.method !== 'string') {
    throw new ConfigError('must be clientSecretPost(…), clientSecretBasic(…), privateKeyJwt(…) or none()', {
      option: 'clientAuth',
    });
  }
  return auth as ClientAuthentication;
}

/**
 * What every preset on an OAuth client takes: core's {@link ProviderOptions} (passed on
 * to `createAuthStrategy` as they are), the client id, and how its token requests are
 * made ({@link GrantOptions}: `fetch`, `maxResponseBytes`).
 *
 * @example
 * ```ts
 * export interface MyVendorOptions extends ClientPresetOptions { baseUrl: string }
 * ```
 */
export interface ClientPresetOptions extends ProviderOptions, GrantOptions {
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
