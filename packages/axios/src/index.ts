/**
 * `@authrail/axios`: the axios adapter. `attachAuth(instance, strategy)` installs two
 * interceptors and returns a function that removes exactly them.
 *
 * @example
 * ```ts
 * import { attachAuth } from '@authrail/axios';
 * const detach = attachAuth(axios.create({ baseURL }), strategy);
 * ```
 *
 * @packageDocumentation
 */
export { attachAuth } from './attach-auth.js';
