// The sandbox's side of the example: two caller apps and the gateway registered at its
// Okta emulator, and a token for each caller (as they would get from their own sign-in).
import type { Sandbox, SandboxClient } from '@authrail/sandbox';

/** The gateway's own Okta client (fake, local only). */
export const GATEWAY_CLIENT = { clientId: 'ctrp-gateway', clientSecret: 'ctrp-gateway-secret' };

const CALLERS = [
  { clientId: 'researcher-portal', clientSecret: 'researcher-portal-secret' },
  { clientId: 'site-dashboard', clientSecret: 'site-dashboard-secret' },
];

/** The clients to add to the sandbox. */
export const sandboxCallers: SandboxClient[] = [GATEWAY_CLIENT, ...CALLERS].map((client) => ({
  service: 'okta' as const,
  ...client,
  scopes: ['ctrp.read'],
}));

/** An Okta access token of each caller app. */
export async function callerTokens(sandbox: Sandbox): Promise<string[]> {
  return Promise.all(
    CALLERS.map(async ({ clientId, clientSecret }) => {
      const response = await fetch(sandbox.urls.okta.tokenEndpoint, {
        method: 'POST',
        headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'ctrp.read' }),
      });
      return ((await response.json()) as { access_token: string }).access_token;
    }),
  );
}
