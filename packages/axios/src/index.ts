/**
 * `@authrail/axios`: the axios adapter. `attachAuth(instance, strategy)` wraps the
 * instance's adapter (under your interceptors, over the wire: every hop authorized, a 401
 * replayed once) and returns a function that puts the previous adapter back.
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
