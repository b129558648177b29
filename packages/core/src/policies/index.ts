export { bearer } from './bearer.js';
export { queryParamScope, type QueryParamScopeOptions } from './query-param-scope.js';
export type { PolicyContext, PolicyResult, RequestPolicy } from './types.js';
