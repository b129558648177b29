import {
  ConfigError,
  createAuthStrategy,
  pickProviderOptions,
  type ProviderOptions,
  type TokenAuthStrategy,
} from '@authrail/core';
import {
  clientCredentials,
  clientSecretBasic,
  secureUrl,
  type ClientSecretPresetOptions,
} from '@authrail/oauth2';

/** Options of {@link oktaClientCredentials}. */
export interface OktaClientCredentialsOptions extends ProviderOptions, ClientSecretPresetOptions {
  /** The authorization server, e.g. `https://<org>.okta.com/oauth2/<authServerId>` (or the org URL for the org server). */
  issuer: string;
  /** Requested scopes, space separated. */
  scope?: string;
  /**
   * The API origins that receive the token. Default: the issuer's origin only, which is
   * safe but rarely what you call: set it to your API (e.g. the CTRP API's origin).
   */
  origins?: readonly string[];
}

/**
 * The token endpoint of an Okta issuer: `{issuer}/v1/token` for a custom authorization
 * server, `{org}/oauth2/v1/token` for the org authorization server.
 *
 * @see https://developer.okta.com/docs/concepts/auth-servers/
 */
export function oktaTokenEndpoint(issuer: string): string {
  const url = secureUrl(issuer, 'issuer');
  const root = url.href.replace(/\/$/, '');
  return url.pathname.startsWith('/oauth2/') ? `${root}/v1/token` : `${root}/oauth2/v1/token`;
}

/**
 * Okta client credentials. Token lifetimes from 5 minutes to 24 hours (CTRP uses 30 min
 * to 8 h) are handled by the token manager's proportional refresh window.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @see https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/
 */
export function oktaClientCredentials(options: OktaClientCredentialsOptions): TokenAuthStrategy {
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
  const tokenEndpoint = oktaTokenEndpoint(options.issuer);
  const source = clientCredentials({
    server: { issuer: options.issuer, tokenEndpoint },
    clientId: options.clientId,
    clientAuth: clientSecretBasic(options.clientSecret),
    scope: options.scope,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
  });
  return createAuthStrategy({
    ...pickProviderOptions(options),
    source,
    origins: options.origins ?? [new URL(tokenEndpoint).origin],
  });
}
