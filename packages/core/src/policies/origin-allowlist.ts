import { ConfigError } from '../errors.js';
import type { RequestPolicy } from './types.js';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Validates and normalises a list of origins (`https://api.example.org`). `http:` is
 * accepted only for loopback hosts, because a token sent in clear text is a token given away.
 *
 * @throws {@link ConfigError} naming `option` when the list is empty or an entry is not an origin
 */
export function normaliseOrigins(origins: readonly string[] | undefined, option = 'origins'): Set<string> {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new ConfigError('must list at least one origin the credentials may be sent to', { option });
  }
  const out = new Set<string>();
  for (const [i, value] of origins.entries()) {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new ConfigError(`entry ${i} is not an absolute URL`, { option });
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
      throw new ConfigError(`entry ${i} (${url.origin}) must be https: (http: only for loopback)`, {
        option,
      });
    }
    out.add(url.origin);
  }
  return out;
}

/**
 * Lets credentials go only to the given origins. A request to any other origin passes
 * through untouched: no token is fetched, no header or parameter added.
 *
 * @example
 * ```ts
 * originAllowlist(['https://apim.mskcc.org'])
 * ```
 */
export function originAllowlist(origins: readonly string[]): RequestPolicy {
  const allowed = normaliseOrigins(origins);
  return (request) => (allowed.has(request.url.origin) ? undefined : 'skip');
}
