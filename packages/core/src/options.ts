/**
 * Checks of option objects, shared by every factory: a wrong option fails at
 * construction with a `ConfigError` that names it, never silently.
 *
 * @module
 */
import { ConfigError } from './errors.js';

/** The longest delay a timer can hold: setTimeout turns anything longer into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Checks that `value` is a plain object whose keys are all in `known`: a misspelt or
 * removed option (plain JavaScript callers get no type error) would otherwise be ignored
 * without a word. `removed` says what replaced an option that existed once.
 *
 * @param value - the options object (undefined is fine: every option has a default)
 * @param option - its name in messages (`options`, `retry`, …)
 * @param known - the keys it takes
 * @param removed - keys it took once, with what to use instead
 * @throws {@link ConfigError} naming the object, or the unknown key as `option.key`
 */
export function checkKnown(
  value: unknown,
  option: string,
  known: readonly string[],
  removed: Readonly<Record<string, string>> = REMOVED,
): void {
  const whole = option === 'options';
  if (value === undefined && !whole) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(
      whole ? 'must be an options object' : `must be an object with ${known.join(', ')}`,
      {
        option,
      },
    );
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const instead = removed[key];
    throw new ConfigError(
      instead
        ? `is not an option (any more): ${instead}`
        : `is not an option; ${whole ? 'the options are' : `${option} takes`} ${known.join(', ')}`,
      { option: whole ? key : `${option}.${key}` },
    );
  }
}

/** Options that existed once, or that users reach for by habit, with what to use instead. */
const REMOVED: Readonly<Record<string, string>> = {
  timeoutMs: 'use retry.attemptTimeoutMs',
  origin: "use origins: ['https://api.example.org'] (a list)",
  scopes: "use scope: 'a b' (one space-separated string)",
};

/**
 * Checks an options object whole, for factories outside core (token sources, presets):
 * `options` must be an object, and every key one of `known`; anything else is a
 * `ConfigError` naming it (an option that was removed says what replaced it).
 *
 * @example
 * ```ts
 * export function mySource(options: { endpoint: string; clientId: string }): TokenSource {
 *   checkOptions(options, ['endpoint', 'clientId']);
 *   // …
 * }
 * ```
 */
export function checkOptions(options: unknown, known: readonly string[]): void {
  checkKnown(options, 'options', known);
}

/** The options of every strategy factory (`StrategyOptions`). */
export const STRATEGY_KEYS = ['origins', 'policies', 'rejectWhen', 'logger', 'on'] as const;
/** The options of the token manager a strategy builds (`TokenOptions`). */
const TOKEN_KEYS = ['store', 'refresh', 'retry'] as const;
/** What every preset takes on top of its own options (`PresetOptions`). */
export const PROVIDER_KEYS = [...STRATEGY_KEYS, ...TOKEN_KEYS] as const;

/** A number in `[min, max]` (an integer when asked), or `fallback` when undefined. */
export function nonNegative(
  value: unknown,
  option: string,
  fallback: number,
  { integer = false, min = 0, max = MAX_TIMER_MS } = {},
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new ConfigError(`must be a finite ${integer ? 'integer' : 'number'} from ${min} to ${max}`, {
      option,
    });
  }
  return value;
}

/** A function, or `fallback` when undefined. */
export function checkFunction<T>(value: T | undefined, option: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new ConfigError('must be a function', { option });
  return value;
}
