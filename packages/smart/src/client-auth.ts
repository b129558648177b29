// How a SMART client authenticates at the token endpoint, checked at construction, and
// what the server's SMART configuration must list for it, checked once when it is read.
import { ConfigError } from '@authrail/core';
import {
  privateKeyJwt,
  type AssertionSigner,
  type ClientAuthentication,
  type PrivateKeyInput,
} from '@authrail/oauth2';
import { algorithmOf, type SmartAlgorithm } from './keys.js';

/** The key options of a client that signs assertions (`private_key_jwt`). */
export interface AssertionKeyOptions {
  /** The private key (RS384 or ES384) with its `kid`, or a function returning one. */
  privateKey?: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>);
  /** Signs assertions where the key lives (a cloud KMS, an HSM). */
  signer?: AssertionSigner;
}

/** Checks a SMART configuration document: the problem to report, or undefined. */
type ConfigurationCheck = (metadata: Readonly<Record<string, unknown>>) => string | undefined;

const SMART_ALGORITHMS: readonly SmartAlgorithm[] = ['RS384', 'ES384'];

/** What the assertions will be signed with, when it can be known before the first token request. */
function algorithmOfInput({ privateKey, signer }: AssertionKeyOptions): string | undefined {
  if (signer) return signer.alg;
  if (privateKey instanceof CryptoKey) return algorithmOf(privateKey) ?? privateKey.algorithm.name;
  if (typeof privateKey === 'object' && privateKey !== null && privateKey.key instanceof CryptoKey)
    return algorithmOf(privateKey.key) ?? privateKey.key.algorithm.name;
  return undefined;
}

/**
 * What SMART's configuration must say for a client authenticating with `method`: the
 * method among `token_endpoint_auth_methods_supported`, and for assertions the key's
 * algorithm among the signing algorithms, when the document lists them.
 */
export function configurationCheck(method: string, alg?: string): ConfigurationCheck {
  return (metadata) => {
    const methods = metadata.token_endpoint_auth_methods_supported;
    if (Array.isArray(methods) && !methods.includes(method))
      return `does not list ${method} in token_endpoint_auth_methods_supported (${methods.join(', ')})`;
    const algorithms = metadata.token_endpoint_auth_signing_alg_values_supported;
    if (alg && Array.isArray(algorithms) && !algorithms.includes(alg))
      return `does not accept ${alg} assertions (token_endpoint_auth_signing_alg_values_supported: ${algorithms.join(', ')})`;
    return undefined;
  };
}

/**
 * The `private_key_jwt` authentication of a SMART client (Backend Services, and App
 * Launch's `client-confidential-asymmetric`): exactly one of `privateKey` and `signer`,
 * RS384 or ES384 as SMART servers support, with the `kid` it is registered under.
 *
 * @throws `ConfigError` naming the option
 */
export function assertionClient(options: AssertionKeyOptions): {
  clientAuth: ClientAuthentication;
  check: ConfigurationCheck;
} {
  const { privateKey, signer } = options;
  if ((privateKey === undefined) === (signer === undefined))
    throw new ConfigError('give either privateKey or signer (exactly one)', { option: 'privateKey' });
  const alg = algorithmOfInput(options);
  const option = signer ? 'signer.alg' : 'privateKey';
  if (alg !== undefined && !SMART_ALGORITHMS.includes(alg as SmartAlgorithm))
    throw new ConfigError(`must sign with RS384 or ES384, as SMART servers support (this one: ${alg})`, {
      option,
    });
  const kid = signer ? signer.kid : (privateKey as { kid?: unknown } | undefined)?.kid;
  if (typeof privateKey !== 'function' && (typeof kid !== 'string' || !kid))
    throw new ConfigError('needs the kid the key is registered under (SMART requires one): { key, kid }', {
      option: signer ? 'signer.kid' : 'privateKey',
    });
  return {
    clientAuth: privateKeyJwt((signer ?? privateKey)!),
    check: configurationCheck('private_key_jwt', alg),
  };
}
