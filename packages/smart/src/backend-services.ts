import { ConfigError, createAuthStrategy, type TokenAuthStrategy } from '@authrail/core';
import {
  clientPresetOptionsOf,
  clientCredentials,
  endpointsAt,
  type AssertionSigner,
  type ClientPresetOptions,
  type PrivateKeyInput,
  type ServerOptions,
} from '@authrail/oauth2';
import { assertionClient } from './client-auth.js';

/** Options of {@link smartBackendServices}. */
export interface SmartBackendServicesOptions extends ClientPresetOptions {
  /**
   * The FHIR server's base URL (https:, or http: on loopback). Its origin is where
   * tokens go (unless `origins` says more); its `/.well-known/smart-configuration` says
   * where the token endpoint is.
   */
  fhirBaseUrl: string;
  /**
   * The private key the assertions are signed with, RS384 (RSASSA-PKCS1-v1_5 SHA-384) or
   * ES384 (ECDSA P-384), with the `kid` it is registered under: `{ key, kid }`
   * ({@link importPrivateKey} and {@link generateSigningKey} give one; a
   * non-extractable WebCrypto key works), or a function returning one (read again after
   * `invalid_client`, so a rotated key is picked up). Give this or `signer`.
   */
  privateKey?: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>);
  /**
   * Signs assertions where the key lives (a cloud KMS, an HSM): `{ alg, kid, sign(header,
   * claims) }` returning the compact JWS. Give this or `privateKey`.
   */
  signer?: AssertionSigner;
  /**
   * System scopes, space separated: v2 (`system/Patient.rs system/Observation.rs`) or v1
   * (`system/*.read`).
   */
  scope: string;
  /** The token endpoint, when the server has no SMART configuration to read it from. */
  tokenEndpoint?: string;
}

function checkScope(scope: unknown): string {
  if (typeof scope !== 'string' || !scope.trim())
    throw new ConfigError('must name the system scopes to ask for, e.g. system/Patient.rs', {
      option: 'scope',
    });
  const other = scope.split(/\s+/).filter((s) => s && !s.startsWith('system/'));
  if (other.length > 0)
    throw new ConfigError(`Backend Services ask for system/ scopes only, not ${other.join(' ')}`, {
      option: 'scope',
    });
  return scope.trim().split(/\s+/).join(' ');
}

/**
 * SMART on FHIR Backend Services (SMART App Launch 2.x): a service calls a FHIR server
 * with no user, authenticating with a JWT signed by its own key (`private_key_jwt`,
 * RS384 or ES384) instead of a secret. The token endpoint comes from
 * `{fhirBaseUrl}/.well-known/smart-configuration` (read once, on the first token
 * request). Every token request sends a new assertion (`kid` in the header; `iss` and
 * `sub` the client id, `aud` the token endpoint, a fresh `jti`, `exp` 60 s ahead);
 * there is no refresh token: when the token nears its end, a new assertion gets a new
 * one, ahead of time, once for all concurrent callers. Tokens go to the FHIR server's
 * origin only (and to `origins`, when given).
 *
 * @param options - the FHIR base URL, the client id, `privateKey` or `signer`, the
 *   system `scope`, and core's options (`origins`, `refresh`, `store`, `retry`, `logger`, `on`)
 * @returns a strategy for every adapter (`createAuthFetch`, `createAuthKy`, `attachAuth`)
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * import { createAuthFetch } from '@authrail/fetch';
 * import { importPrivateKey, smartBackendServices } from '@authrail/smart';
 *
 * const fhir = createAuthFetch(
 *   smartBackendServices({
 *     fhirBaseUrl: 'https://fhir.example.org/r4',
 *     clientId: 'bulk-exporter',
 *     privateKey: await importPrivateKey(process.env.SMART_PRIVATE_KEY!, { alg: 'ES384', kid: 'exporter-2026' }),
 *     scope: 'system/Patient.rs system/Observation.rs',
 *   }),
 * );
 * const patients = await fhir('https://fhir.example.org/r4/Patient?_count=10');
 * ```
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export function smartBackendServices(options: SmartBackendServicesOptions): TokenAuthStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, [
    'fhirBaseUrl',
    'privateKey',
    'signer',
    'scope',
    'tokenEndpoint',
  ]);
  // endpointsAt checks the base URL (https:, or http: on loopback; no query or fragment).
  const fhir = endpointsAt(options.fhirBaseUrl, { token: '/.well-known/smart-configuration' }, 'fhirBaseUrl');
  const { clientAuth, check } = assertionClient(options);
  const scope = checkScope(options.scope);
  // Checked here so an error names this option (https:, or http: on loopback; no query or fragment).
  if (options.tokenEndpoint !== undefined)
    endpointsAt(options.tokenEndpoint, { token: '/' }, 'tokenEndpoint');
  const server: ServerOptions =
    options.tokenEndpoint === undefined
      ? { metadataUrl: fhir.tokenEndpoint, check }
      : { issuer: fhir.issuer, tokenEndpoint: options.tokenEndpoint };
  const source = clientCredentials({
    server,
    clientId: options.clientId,
    clientAuth,
    scope,
    ...grant,
  });
  return createAuthStrategy({
    ...preset,
    source,
    origins: preset.origins ?? [new URL(fhir.issuer).origin],
  });
}
