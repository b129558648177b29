/**
 * `@authrail/axios`: the axios adapter. `attachAuth(instance, strategy)` installs one
 * request interceptor (it authorizes at dispatch, replays a 401 once) and returns a
 * function that removes exactly it.
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
