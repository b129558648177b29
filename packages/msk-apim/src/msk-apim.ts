import { ConfigError, createAuthStrategy, queryParamScope, type TokenAuthStrategy } from '@authrail/core';
import {
  clientPresetOptionsOf,
  clientCredentials,
  clientSecretPost,
  endpointsAt,
  type ClientSecretPresetOptions,
} from '@authrail/oauth2';

/** The token path of MSK APIM's OIDC service. */
export const DEFAULT_MSK_TOKEN_PATH = '/msk-apim/external/msk-oidc/oauth2/token';
/** The query parameter MSK APIM scopes every request with. */
export const RESEARCH_STUDY_PARAM = 'researchstudy';

/** Options of {@link mskApim}. */
export interface MskApimOptions extends ClientSecretPresetOptions {
  /** The APIM base URL, e.g. `https://apim.mskcc.org`. Its origin receives the token unless `origins` says otherwise. */
  baseUrl: string;
  /** The default protocol, added as `?researchstudy=` when a request has none. Without it every request must carry its own. */
  researchStudy?: string;
  /** Default {@link DEFAULT_MSK_TOKEN_PATH}. */
  tokenPath?: string;
  /** Default `full`. */
  scope?: string;
}

/** The strategy {@link mskApim} returns. */
export interface MskApimStrategy extends TokenAuthStrategy {
  /**
   * A strategy for another protocol that shares this one's token (the token is per
   * client; the protocol is per request): one token request serves every protocol.
   */
  withResearchStudy(researchStudy: string): MskApimStrategy;
}

function checkStudy(value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || value.trim() === ''))
    throw new ConfigError('must be a non-empty protocol number, e.g. "17-001"', { option: 'researchStudy' });
}

/**
 * The MSK APIM preset: client credentials with the secret in the form body
 * (`client_secret_post`), `scope=full`, and every request scoped with
 * `researchstudy=<protocol>`. Requests without a protocol (no default and none on the
 * request) are refused with `MissingScopeError` before anything is sent.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * const strategy = mskApim({ baseUrl: 'https://apim.mskcc.org', clientId, clientSecret, researchStudy: '17-001' });
 * const api = createAuthFetch(strategy);
 * const other = createAuthFetch(strategy.withResearchStudy('20-123')); // same token
 * ```
 */
export function mskApim(options: MskApimOptions): MskApimStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, [
    'baseUrl',
    'clientSecret',
    'researchStudy',
    'tokenPath',
    'scope',
  ]);
  const server = endpointsAt(options.baseUrl, { token: options.tokenPath ?? DEFAULT_MSK_TOKEN_PATH });
  checkStudy(options.researchStudy);
  const source = clientCredentials({
    server,
    clientId: options.clientId,
    clientAuth: clientSecretPost(options.clientSecret),
    scope: options.scope ?? 'full',
    ...grant,
  });
  const origins = preset.origins ?? [new URL(server.issuer).origin];

  const build = (
    researchStudy: string | undefined,
    shared: TokenAuthStrategy | undefined,
  ): MskApimStrategy => {
    // concat, not spread: a non-array `policies` reaches core's check and its ConfigError.
    const policies = [
      queryParamScope({
        param: RESEARCH_STUDY_PARAM,
        ...(researchStudy ? { value: researchStudy } : {}),
        required: true,
      }),
    ].concat(options.policies ?? []);
    const strategy = shared
      ? // The token manager (and its store, refresh and retry) is the first strategy's.
        createAuthStrategy({
          ...preset,
          store: undefined,
          refresh: undefined,
          retry: undefined,
          tokens: shared.tokens,
          origins,
          policies,
        })
      : createAuthStrategy({ ...preset, source, origins, policies });
    return {
      send: strategy.send,
      tokens: strategy.tokens,
      withResearchStudy(other) {
        if (other === undefined) checkStudy('');
        checkStudy(other);
        return build(other, strategy);
      },
    };
  };
  return build(options.researchStudy, undefined);
}
