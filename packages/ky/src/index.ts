/**
 * `@authrail/ky`: the ky adapter (ky 1.14+ and 2.x). `createAuthKy(strategy, { ky })`
 * returns your ky instance (or the installed one) extended with authrail as its `fetch`.
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
