import { createAuthStrategy, type RequestPolicy, type TokenAuthStrategy } from '@authrail/core';
import {
  clientPresetOptionsOf,
  clientCredentials,
  clientSecretBasic,
  type ClientSecretPresetOptions,
} from '@authrail/oauth2';
import { medblocksServer } from './common.js';

/** Options of {@link medblocksClientCredentials}. */
export interface MedblocksClientCredentialsOptions extends ClientSecretPresetOptions {
  /** The Medblocks base URL; the token endpoint is `{baseUrl}/oauth2/token`, FHIR at `{baseUrl}/fhir`. */
  baseUrl: string;
  /** Requested scope, if the client needs one. */
  scope?: string;
}

/**
 * A policy for FHIR calls under `fhirBase`: asks for `application/fhir+json` when the
 * request does not say what it accepts, and sends JSON bodies as `application/fhir+json`.
 */
export function fhirJson(fhirBase: string): RequestPolicy {
  const prefix = fhirBase.replace(/\/$/, '');
  return (request) => {
    const href = `${request.url.origin}${request.url.pathname}`;
    if (href !== prefix && !href.startsWith(`${prefix}/`)) return;
    const accept = request.headers.get('accept');
    if (!accept || accept === '*/*' || accept.startsWith('application/json, text/plain'))
      request.headers.set('Accept', 'application/fhir+json');
    const type = request.headers.get('content-type');
    if (type && /^application\/json\b/i.test(type))
      request.headers.set('Content-Type', type.replace(/^application\/json/i, 'application/fhir+json'));
  };
}

/**
 * Medblocks backend client credentials: HTTP Basic client authentication; the lowercase
 * `bearer` token type Medblocks returns is accepted (and sent as `Bearer`).
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * const strategy = medblocksClientCredentials({ baseUrl: 'https://api.medblocks.com', clientId, clientSecret });
 * attachAuth(axios.create({ baseURL: 'https://api.medblocks.com/fhir' }), strategy);
 * ```
 */
export function medblocksClientCredentials(options: MedblocksClientCredentialsOptions): TokenAuthStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, ['baseUrl', 'clientSecret', 'scope']);
  const server = medblocksServer(options.baseUrl);
  const source = clientCredentials({
    server,
    clientId: options.clientId,
    clientAuth: clientSecretBasic(options.clientSecret),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...grant,
  });
  return createAuthStrategy({
    ...preset,
    source,
    origins: preset.origins ?? [new URL(server.issuer).origin],
    // concat, not spread: a non-array `policies` reaches core's check and its ConfigError.
    policies: [fhirJson(`${server.issuer}/fhir`)].concat(options.policies ?? []),
  });
}
