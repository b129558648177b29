// The SPA: sign in with Medblocks (authorization code + PKCE), list patients through
// the fetch adapter, show what authrail did, sign out. The token never reaches the page.
import { isAuthorizationResponseError, isAuthrailError } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { medblocksAuthorizationCode } from '@authrail/medblocks';
import { config } from './config.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const errorBox = $('error');
const patients = $<HTMLUListElement>('patients');
const trace = $<HTMLOListElement>('trace');
const buttons = {
  signIn: $<HTMLButtonElement>('sign-in'),
  list: $<HTMLButtonElement>('list'),
  signOut: $<HTMLButtonElement>('sign-out'),
};

function note(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  trace.append(item);
}

function showError(error: unknown): void {
  errorBox.hidden = false;
  errorBox.textContent = isAuthorizationResponseError(error)
    ? `Sign-in failed: ${error.error}${error.errorDescription ? ` (${error.errorDescription})` : ''}`
    : isAuthrailError(error)
      ? `${error.name}: ${error.code}`
      : String(error);
}

const auth = medblocksAuthorizationCode({
  baseUrl: config.baseUrl,
  clientId: config.clientId,
  redirectUri: config.redirectUri,
  on: {
    tokenFetched: (e) => note(`token fetched (${e.grant} grant)`),
    tokenRefreshed: (e) => note(`token refreshed: ${e.reason}, ${e.grant} grant`),
    rejected: (e) =>
      note(`${e.method} ${new URL(e.url).pathname} → 401, ${e.replay ? 'replayed once' : e.reason}`),
    error: (e) => note(`${e.phase} failed: ${e.error.code}`),
  },
});
const api = createAuthFetch(auth);

async function render(): Promise<void> {
  const signedIn = await auth.isSignedIn();
  status.textContent = signedIn ? 'Signed in' : 'Signed out';
  buttons.signIn.hidden = signedIn;
  buttons.list.hidden = !signedIn;
  buttons.signOut.hidden = !signedIn;
  if (!signedIn) patients.replaceChildren();
}

async function listPatients(): Promise<void> {
  const response = await api(`${config.baseUrl}/fhir/Patient`);
  if (!response.ok) throw new Error(`Medblocks answered ${response.status}`);
  const bundle = (await response.json()) as {
    entry?: { resource: { name?: { given?: string[]; family?: string }[] } }[];
  };
  patients.replaceChildren(
    ...(bundle.entry ?? []).map(({ resource }) => {
      const item = document.createElement('li');
      const name = resource.name?.[0];
      item.textContent = [name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
      return item;
    }),
  );
  note(`listed ${patients.children.length} patients`);
}

buttons.signIn.addEventListener('click', () => {
  auth.login().catch(showError);
});
buttons.list.addEventListener('click', () => {
  listPatients().catch(showError);
});
buttons.signOut.addEventListener('click', () => {
  auth
    .logout()
    .then(() => note('signed out; tokens revoked'))
    .then(render)
    .catch(showError);
});

async function start(): Promise<void> {
  const here = new URL(location.href);
  if (here.searchParams.has('state') || here.searchParams.has('error') || here.searchParams.has('code')) {
    history.replaceState(null, '', here.pathname); // the code must not stay in the address bar
    try {
      await auth.handleRedirect(here);
      note('signed in: code exchanged with the PKCE verifier');
    } catch (error) {
      showError(error);
    }
  }
  await render();
  if (await auth.isSignedIn()) await listPatients();
}

start().catch(showError);
