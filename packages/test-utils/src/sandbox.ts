// One sandbox per test file: started before the tests, reset after each (records,
// faults and tokens forgotten), closed at the end.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { demoClients, startSandbox, type Sandbox, type SandboxOptions } from '@authrail/sandbox';

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

/**
 * Plays the user on a sandbox sign-in page (Medblocks, SMART App Launch) with the demo
 * user: loads the page, posts the form with `decision`, and returns the URL the browser
 * is sent back to (with the code, or the error).
 */
export async function signInOnSandbox(
  authorizeUrl: URL,
  decision: 'allow' | 'deny' = 'allow',
): Promise<string> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  await page.body?.cancel();
  if (page.status !== 200) throw new Error(`the sign-in page answered ${page.status}`);
  const form = new URLSearchParams(authorizeUrl.searchParams);
  form.set('username', demoClients.user.username);
  form.set('password', demoClients.user.password);
  form.set('decision', decision);
  const back = await fetch(authorizeUrl.origin + authorizeUrl.pathname, {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  await back.body?.cancel();
  const location = back.headers.get('location');
  if (back.status !== 302 || !location)
    throw new Error(`the sign-in form answered ${back.status}, not a redirect`);
  return location;
}
