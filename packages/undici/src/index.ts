/**
 * `@authrail/undici`: an undici interceptor that runs authrail's request loop for every
 * request to a routed origin. Composed into the global dispatcher, it authenticates the
 * global `fetch`, `undici.request` and every SDK built on them, each origin with its own
 * strategy.
 *
 * @example
 * ```ts
 * import { Agent, setGlobalDispatcher } from 'undici';
 * import { authrail } from '@authrail/undici';
 *
 * setGlobalDispatcher(new Agent().compose(authrail({ 'https://apim.mskcc.org': msk })));
 * ```
 *
 * @packageDocumentation
 */
export { authrail, type AuthInterceptorOptions } from './interceptor.js';
