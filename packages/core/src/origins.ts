/**
 * The origin allowlist: core's own check, run before every hop, so no policy can send a
 * credential anywhere else.
 *
 * @module
 */
import { ConfigError } from './errors.js';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Whether a URL's host is a loopback address, where `http:` is acceptable. */
function isLoopback(url: URL): boolean {
  return LOOPBACK.test(url.hostname);
}

/**
 * Validates and normalises a list of origins (`https://api.example.org`) to exact
 * scheme + host + port strings. `http:` is accepted only for loopback hosts, because a
 * token sent in clear text is a token given away.
 *
 * @throws {@link ConfigError} naming `option` when the list is empty or an entry is not
 *   an origin (a path, query or userinfo is refused, not dropped)
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
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
      throw new ConfigError(`entry ${i} (${url.origin}) must be https: (http: only for loopback)`, {
        option,
      });
    }
    // Credentials go to a whole origin: a path here would read as a narrower grant than it is.
    if (
      url.pathname !== '/' ||
      url.search ||
      url.hash ||
      String(value).includes('#') ||
      url.username ||
      url.password
    ) {
      throw new ConfigError(
        `entry ${i} (${url.origin}${url.pathname === '/' ? '' : url.pathname}) must be an origin only: scheme, host and port, without path, query or credentials`,
        { option },
      );
    }
    out.add(url.origin);
  }
  return out;
}
