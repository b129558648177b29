import { ConfigError, MissingScopeError } from '../errors.js';
import { checkKnown } from '../options.js';
import type { RequestPolicy } from './types.js';

/** Options for {@link queryParamScope}. */
export interface QueryParamScopeOptions {
  /** The query parameter, e.g. `researchstudy`. */
  param: string;
  /** Added when the request has none. */
  value?: string;
  /** When true and the request has no value and there is no default, throw {@link MissingScopeError} before anything is sent. Default false. */
  required?: boolean;
}

/**
 * Scopes requests with a query parameter, such as MSK APIM's per-protocol
 * `researchstudy`: keeps a value the request already has, adds the default otherwise,
 * and refuses to send a request without one when `required`.
 *
 * @example
 * ```ts
 * queryParamScope({ param: 'researchstudy', value: '17-001', required: true })
 * ```
 */
export function queryParamScope(options: QueryParamScopeOptions): RequestPolicy {
  checkKnown(options, 'options', ['param', 'value', 'required']);
  if (typeof options?.param !== 'string' || options.param.length === 0) {
    throw new ConfigError('must be a non-empty string', { option: 'param' });
  }
  if (options.value !== undefined && (typeof options.value !== 'string' || options.value.length === 0)) {
    throw new ConfigError('must be a non-empty string when given', { option: 'value' });
  }
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    throw new ConfigError('must be true or false when given', { option: 'required' });
  }
  const { param, value, required = false } = options;
  return (request) => {
    const existing = request.url.searchParams.get(param);
    if (existing !== null && existing !== '') return;
    if (value !== undefined) {
      request.url.searchParams.set(param, value);
      return;
    }
    if (required) throw new MissingScopeError(param, request.url);
  };
}
