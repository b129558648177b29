import {
  ConfigError,
  createAuthStrategy,
  queryParamScope,
  type ProviderOptions,
  type TokenAuthStrategy,
} from '@authrail/core';
import {
  clientCredentials,
  clientSecretPost,
  secureUrl,
  type ClientSecretPresetOptions,
} from '@authrail/oauth2';

/** The token path of MSK APIM's OIDC service. */
export const DEFAULT_MSK_TOKEN_PATH = '/msk-apim/external/msk-oidc/oauth2/token';
/** The query parameter MSK APIM scopes every request with. */
export const RESEARCH_STUDY_PARAM = 'researchstudy';

/** Options of {@link mskApim}. */
export interface MskApimOptions extends ProviderOptions, ClientSecretPresetOptions {
  /** The APIM base URL, e.g. `https://apim.mskcc.org`. Its origin receives the token. */
  baseUrl: string;
  /** The default protocol, added as `?researchstudy=` when a request has none. Without it every request must carry its own. */
  researchStudy?: string;
  /** Default {@link DEFAULT_MSK_TOKEN_PATH}. */
  tokenPath?: string;
  /** Default `full`. */
  scope?: string;
  /** Origins that receive the token. Default: the origin of `baseUrl`. */
  origins?: readonly string[];
}

/** The strategy {@link mskApim} returns. */
export interface MskApimStrategy extends TokenAuthStrategy {
  /**
   * A strategy for another protocol that shares this one's token (the token is per
   * client; the protocol is per request): one token request serves every protocol.
   */
  withResearchStudy(researchStudy: string): MskApimStrategy;
}

/**
 * The MSK APIM preset. Requests without a protocol (no default and none on the request)
 * are refused with `MissingScopeError` before anything is sent.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 */
export function mskApim(options: MskApimOptions): MskApimStrategy {
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
  const base = secureUrl(options.baseUrl, 'baseUrl');
  const tokenPath = options.tokenPath ?? DEFAULT_MSK_TOKEN_PATH;
  if (typeof tokenPath !== 'string' || !tokenPath.startsWith('/'))
    throw new ConfigError('must be a path starting with /', { option: 'tokenPath' });
  const checkStudy = (value: unknown, option: string) => {
    if (value !== undefined && (typeof value !== 'string' || value.trim() === ''))
      throw new ConfigError('must be a non-empty protocol number, e.g. "17-001"', { option });
  };
  checkStudy(options.researchStudy, 'researchStudy');
  const root = base.href.replace(/\/$/, '');
  const source = clientCredentials({
    server: { issuer: root, tokenEndpoint: `${root}${tokenPath}` },
    clientId: options.clientId,
    clientAuth: clientSecretPost(options.clientSecret),
    scope: options.scope ?? 'full',
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const origins = options.origins ?? [base.origin];
  const { refresh, store, retry, logger, on, rejectWhen, policies = [] } = options;

  const build = (
    researchStudy: string | undefined,
    shared: TokenAuthStrategy | undefined,
  ): MskApimStrategy => {
    const common = {
      origins,
      policies: [
        queryParamScope({
          param: RESEARCH_STUDY_PARAM,
          ...(researchStudy ? { value: researchStudy } : {}),
          required: true,
        }),
        ...policies,
      ],
      ...(logger ? { logger } : {}),
      ...(on ? { on } : {}),
      ...(rejectWhen ? { rejectWhen } : {}),
    };
    const strategy: TokenAuthStrategy = shared
      ? createAuthStrategy({ ...common, tokens: shared.tokens })
      : createAuthStrategy({
          ...common,
          source,
          ...(refresh ? { refresh } : {}),
          ...(store ? { store } : {}),
          ...(retry ? { retry } : {}),
        });
    return {
      ...strategy,
      withResearchStudy(other) {
        checkStudy(other, 'researchStudy');
        if (other === undefined)
          throw new ConfigError('must be a non-empty protocol number', { option: 'researchStudy' });
        return build(other, strategy);
      },
    };
  };
  return build(options.researchStudy, undefined);
}
