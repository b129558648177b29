/**
 * `@authrail/fetch`: the fetch adapter. `createAuthFetch(strategy)` returns a function
 * with `fetch`'s signature that authenticates requests to the strategy's origins.
 *
 * @example
 * ```ts
 * import { createAuthFetch } from '@authrail/fetch';
 * const api = createAuthFetch(strategy);
 * const res = await api('https://apim.mskcc.org/msk-apim/external/blaze/fhir/Patient');
 * ```
 *
 * @packageDocumentation
 */
export { createAuthFetch, type AuthFetchOptions } from './auth-fetch.js';
