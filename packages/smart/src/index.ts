/**
 * `@authrail/smart`: SMART on FHIR for authrail. Backend Services — a service calling a
 * FHIR server with a signed JWT (`private_key_jwt`, RS384 or ES384) instead of a secret,
 * the token endpoint read from `.well-known/smart-configuration`, keys in WebCrypto or
 * behind a signer (a KMS, an HSM) — and the key helpers to create a pair, import one and
 * publish the JWKS the server registers. The `authrail-smart` command does the same
 * from a shell.
 *
 * @example
 * ```ts
 * import { createAuthFetch } from '@authrail/fetch';
 * import { generateSigningKey, publicJwks, smartBackendServices } from '@authrail/smart';
 *
 * const key = await generateSigningKey({ alg: 'ES384' });
 * console.log(JSON.stringify(await publicJwks([key]))); // register it with the FHIR server
 * const fhir = createAuthFetch(
 *   smartBackendServices({
 *     fhirBaseUrl,
 *     clientId: 'exporter',
 *     privateKey: { key: key.privateKey, kid: key.kid },
 *     scope: 'system/Patient.rs',
 *   }),
 * );
 * ```
 *
 * @packageDocumentation
 */
export { smartBackendServices, type SmartBackendServicesOptions } from './backend-services.js';
export {
  smartAppLaunch,
  type LaunchContext,
  type SmartAppLaunchOptions,
  type SmartAppLaunchStrategy,
} from './app-launch.js';
export {
  algorithmOf,
  generateSigningKey,
  importPrivateKey,
  publicJwks,
  type ImportedKey,
  type Jwks,
  type PublicJwk,
  type SigningKey,
  type SmartAlgorithm,
} from './keys.js';
