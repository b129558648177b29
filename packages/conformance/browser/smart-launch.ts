// A SMART App Launch app as an EHR opens it, for the two-tab test in real Chromium: the
// library's defaults (sessionStorage per tab, the tab store shared by the tabs), the fetch
// adapter, nothing else. `/launch` starts the sign-in, `/callback` finishes it, `/app`
// shows the launch's patient; the test reads the FHIR server through `window.app.read`.
import { createAuthFetch } from '@authrail/fetch';
import { smartAppLaunch } from '@authrail/smart';

const { fhirBaseUrl, clientId } = (
  globalThis as unknown as { SMART: { fhirBaseUrl: string; clientId: string } }
).SMART;
const smart = smartAppLaunch({
  fhirBaseUrl,
  clientId,
  redirectUri: `${location.origin}/callback`,
  scope: 'patient/*.rs openid fhirUser offline_access',
});
const api = createAuthFetch(smart);

async function start(): Promise<string> {
  const here = new URL(location.href);
  if (here.pathname === '/launch') {
    await smart.login(here);
    return 'signing in';
  }
  if (here.pathname === '/callback') {
    await smart.handleRedirect(here);
    history.replaceState(null, '', '/app');
  }
  const context = await smart.launchContext();
  document.getElementById('patient')!.textContent = context?.patient ?? 'none';
  return 'ready';
}

(globalThis as unknown as Record<string, unknown>).app = {
  ready: start().catch((error: { code?: string; name?: string; message?: string }) => {
    return `error ${error.code ?? error.name}: ${error.message}`;
  }),
  context: () => smart.launchContext(),
  async read(path: string) {
    const response = await api(`${fhirBaseUrl}${path}`);
    await response.body?.cancel();
    return response.status;
  },
};
