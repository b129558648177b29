/**
 * `@authrail/ky`: the ky adapter (ky 1.14+ and 2.x). `createAuthKy(strategy)` returns an
 * extended ky instance; `authHooks(strategy)` returns hooks for an instance of your own.
 *
 * @example
 * ```ts
 * import { createAuthKy } from '@authrail/ky';
 * const api = createAuthKy(strategy, { prefix: 'https://ctrp.example.org/accrual-services' }); // ky 1: prefixUrl
 * ```
 *
 * @packageDocumentation
 */
export { createAuthKy, type AuthKyOptions, type KyLike } from './auth-ky.js';
