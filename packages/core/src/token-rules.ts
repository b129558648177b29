/**
 * When a token is served, refreshed in the background, or waited for: the rule, written
 * once, as three named predicates (the shape of Azure's `tokenCycler`).
 *
 * @module
 */
import { checkKnown, nonNegative } from './options.js';
import type { Token } from './token.js';

/**
 * When to refresh. A token is served until `expiresAt - skew`; from
 * `expiresAt - refreshAhead` a background refresh starts while callers keep getting
 * the current token, so in steady state nobody waits.
 *
 * Both windows scale down for short-lived tokens: skew is at most 10 % and the
 * refresh-ahead window at most 50 % of the token's lifetime, so a 60 s token is
 * refreshed from 30 s and served until 54 s.
 *
 * Why these defaults: Go's oauth2 treats tokens as expired 10 s early (clock skew plus
 * request latency) and google-auth-library refreshes 5 min early; Azure Identity starts
 * a background refresh early and blocks only at the very end. We take Go's 10 s as the
 * hard margin and google's 5 min as the background window, which leaves room for
 * several retried attempts (with backoff) before any caller has to wait.
 */
export interface RefreshOptions {
  /** A token counts as expired this long before `expiresAt`. Default 10 000 ms (at most 10 % of lifetime). */
  skewMs?: number;
  /** A background refresh starts this long before `expiresAt`. Default 300 000 ms (at most 50 % of lifetime). */
  refreshAheadMs?: number;
}

/** The defaults, for docs and tests. */
export const DEFAULT_REFRESH = {
  /** 10 s, Go oauth2's margin. */
  skewMs: 10_000,
  /** 5 min, google-auth-library's window. */
  refreshAheadMs: 300_000,
} as const;

/** Checks the `refresh` options group, naming the option that is wrong. */
export function resolveRefreshOptions(refresh: RefreshOptions | undefined): Required<RefreshOptions> {
  checkKnown(refresh, 'refresh', Object.keys(DEFAULT_REFRESH));
  return {
    skewMs: nonNegative(refresh?.skewMs, 'refresh.skewMs', DEFAULT_REFRESH.skewMs),
    refreshAheadMs: nonNegative(
      refresh?.refreshAheadMs,
      'refresh.refreshAheadMs',
      DEFAULT_REFRESH.refreshAheadMs,
    ),
  };
}

/** Where a token stands at a moment, by {@link RefreshOptions}. */
export interface TokenRules {
  /** Serve it; nothing to do. A token without an expiry is always fresh. */
  isFresh(token: Token, now: number): boolean;
  /** Serve it, and refresh in the background: it is in its refresh-ahead window. */
  isStale(token: Token, now: number): boolean;
  /** Do not serve it: wait for a new one. From `expiresAt - skew` on. */
  isExpired(token: Token, now: number): boolean;
}

/**
 * The rules of one token manager: refresh ahead by the smaller of `refreshAheadMs` and
 * half the lifetime, expire by the smaller of `skewMs` and a tenth of it.
 */
export function tokenRules(refresh: Required<RefreshOptions>): TokenRules {
  /** The two moments that decide: from `refreshFrom` stale, from `expireAt` expired. */
  const edges = (token: Token) => {
    const expiresAt = token.expiresAt!;
    const lifetime = Math.max(0, expiresAt - token.issuedAt);
    const skew = Math.min(refresh.skewMs, lifetime * 0.1);
    const ahead = Math.max(skew, Math.min(refresh.refreshAheadMs, lifetime * 0.5));
    return { refreshFrom: expiresAt - ahead, expireAt: expiresAt - skew };
  };
  return {
    isFresh: (token, now) => token.expiresAt === undefined || now < edges(token).refreshFrom,
    isStale: (token, now) => {
      if (token.expiresAt === undefined) return false;
      const { refreshFrom, expireAt } = edges(token);
      return now >= refreshFrom && now < expireAt;
    },
    isExpired: (token, now) => token.expiresAt !== undefined && now >= edges(token).expireAt,
  };
}
