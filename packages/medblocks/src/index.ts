/**
 * `@authrail/medblocks`: presets for Medblocks' FHIR/openEHR platform — backend client
 * credentials, and the authorization code + PKCE flow for browser apps.
 *
 * @example
 * ```ts
 * import { medblocksClientCredentials } from '@authrail/medblocks';
 * const strategy = medblocksClientCredentials({ baseUrl: 'https://api.medblocks.com', clientId, clientSecret });
 * ```
 *
 * @packageDocumentation
 */
export {
  fhirJson,
  medblocksClientCredentials,
  type MedblocksClientCredentialsOptions,
} from './client-credentials.js';
export {
  medblocksAuthorizationCode,
  type MedblocksAuthorizationCodeOptions,
  type MedblocksAuthorizationCodeStrategy,
} from './authorization-code.js';
export type { FlowStorage, LogoutResult } from '@authrail/oauth2';
