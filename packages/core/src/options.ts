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
  removed: Readonly<Record<string, string>> = {},
): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(`must be an object with ${known.join(', ')}`, { option });
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const path = option === 'options' ? key : `${option}.${key}`;
    const instead = removed[key];
    throw new ConfigError(
      instead
        ? `is no longer an option: ${instead}`
        : `is not an option; ${option} takes ${known.join(', ')}`,
      { option: path },
    );
  }
}

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
