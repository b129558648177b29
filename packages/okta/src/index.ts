/**
 * `@authrail/okta`: Okta client credentials (as NCI CTRP uses them): HTTP Basic client
 * authentication, `{issuer}/v1/token`, scopes, and Okta's two error shapes normalised
 * into one `TokenEndpointError`.
 *
 * @example
 * ```ts
 * import { oktaClientCredentials } from '@authrail/okta';
 *
 * const strategy = oktaClientCredentials({
 *   issuer: 'https://nci.okta.com/oauth2/aus1234',
 *   clientId, clientSecret,
 *   scope: 'ctrp.accrual',
 *   origins: ['https://ctrp.cancer.gov'],
 * });
 * ```
 *
 * @packageDocumentation
 */
export {
  oktaClientCredentials,
  oktaErrorDetails,
  oktaTokenEndpoint,
  type OktaClientCredentialsOptions,
  type OktaErrorDetails,
} from './okta.js';
