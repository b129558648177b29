/**
 * `@authrail/msk-apim`: the MSK APIM preset for MSK's Blaze FHIR API. Client credentials
 * with the secret in the form body (`client_secret_post`), `scope=full`, and every
 * request to the API scoped to a protocol with `researchstudy`.
 *
 * @example
 * ```ts
 * import { mskApim } from '@authrail/msk-apim';
 * import { createAuthFetch } from '@authrail/fetch';
 *
 * const strategy = mskApim({ baseUrl: 'https://apim.mskcc.org', clientId, clientSecret, researchStudy: '17-001' });
 * const api = createAuthFetch(strategy);
 * await api('https://apim.mskcc.org/msk-apim/external/blaze/fhir/Patient'); // …?researchstudy=17-001
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_MSK_TOKEN_PATH,
  RESEARCH_STUDY_PARAM,
  mskApim,
  type MskApimOptions,
  type MskApimStrategy,
} from './msk-apim.js';
