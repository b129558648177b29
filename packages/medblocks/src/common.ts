import { ConfigError } from '@authrail/core';
import { secureUrl } from '@authrail/oauth2';

/** Validated base URL without a trailing slash, and its origin. */
export function medblocksBase(value: unknown): { root: string; origin: string } {
  const url = secureUrl(value, 'baseUrl');
  if (url.search || url.hash)
    throw new ConfigError('must not have a query or fragment', { option: 'baseUrl' });
  return { root: url.href.replace(/\/$/, ''), origin: url.origin };
}
