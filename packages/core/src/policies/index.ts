export { bearer } from './bearer.js';
export { originAllowlist, normaliseOrigins } from './origin-allowlist.js';
export { queryParamScope, type QueryParamScopeOptions } from './query-param-scope.js';
export type { AuthRequest, PolicyContext, PolicyResult, RequestPolicy } from './types.js';
