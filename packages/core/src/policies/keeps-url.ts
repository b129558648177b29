import type { RequestPolicy } from './types.js';

/** Core's own policies that never change a hop's URL (header credentials). */
const keepers = new WeakSet<RequestPolicy>();

/** Marks a policy of core's that never changes a hop's URL; returns it. */
export function keepingUrl(policy: RequestPolicy): RequestPolicy {
  keepers.add(policy);
  return policy;
}

/**
 * True when none of these policies changes a hop's URL, so core's loop can lend a hop the
 * URL it already parsed instead of parsing a copy. Any other policy (scoping, a query
 * credential, the user's own) may change it.
 */
export function noneChangesUrl(policies: readonly RequestPolicy[]): boolean {
  return policies.every((policy) => keepers.has(policy));
}
