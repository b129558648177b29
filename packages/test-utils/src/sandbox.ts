// One sandbox per test file: started before the tests, reset after each (records,
// faults and tokens forgotten), closed at the end.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '@authrail/sandbox';

/**
 * Registers the sandbox's lifecycle hooks and returns a stand-in that forwards to the
 * running sandbox, so tests write `sb.urls…` as if they held it.
 */
export function useSandbox(options?: SandboxOptions): Sandbox {
  let current: Sandbox | undefined;
  beforeAll(async () => {
    current = await startSandbox(options);
  });
  afterEach(() => current?.reset());
  afterAll(() => current?.close());
  return new Proxy({} as Sandbox, {
    get(_target, key) {
      if (!current) throw new Error('the sandbox is started in beforeAll; use it inside tests and hooks');
      const value: unknown = Reflect.get(current, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}
