// SMART App Launch against the sandbox's SMART server: standalone and EHR launch, PKCE,
// aud, one token and one context per launch (kept across refreshes), public and
// confidential clients, and an iss that names another server refused.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes, createMemoryTokenStore, isTokenEndpointError } from '@authrail/core';
import { createMemoryStorage, type FlowStorage } from '@authrail/oauth2';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import { smartAppLaunch, type SmartAppLaunchOptions } from '@authrail/smart';
import { sendThrough, signInOnSandbox } from '@authrail/test-utils';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ tokenLifetimeSeconds: { smart: 1 } });
});
afterEach(() => sb.reset());
afterAll(() => sb.close());

const REDIRECT = 'http://127.0.0.1:5174/callback';
const LAUNCH_PAGE = 'http://127.0.0.1:5174/launch';

/** A tab's `sessionStorage`: its own, or a copy of another tab's (a tab opened from it). */
function tabStorage(from?: Map<string, string>): FlowStorage & { items: Map<string, string> } {
  const items = new Map(from);
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** The tabs of one browser: one store holding one user's tokens, as the tab store does. */
const browserStore = () => Object.assign(createMemoryTokenStore(), { oneUser: true as const });

/** What an EHR does to open the app for a patient, and the sign-in that follows. */
async function ehrLaunch(smart: ReturnType<typeof app>, patient: string, encounter?: string): Promise<void> {
  const { iss, launch } = sb.smartLaunch({ patient, ...(encounter ? { encounter } : {}) });
  const url = await smart.authorizationUrl(`${LAUNCH_PAGE}?iss=${encodeURIComponent(iss)}&launch=${launch}`);
  await smart.handleRedirect(await signInOnSandbox(url));
}

/** The access token a FHIR read carried, as the sandbox saw it. */
const lastTokenSent = () =>
  sb
    .resourceRequests({ route: 'smart-fhir' })
    .at(-1)
    ?.headers.authorization?.replace(/^Bearer /, '');

function app(extra: Partial<SmartAppLaunchOptions> = {}) {
  return smartAppLaunch({
    fhirBaseUrl: sb.urls.smart.fhirBaseUrl,
    clientId: demoClients.smartApp.clientId,
    redirectUri: REDIRECT,
    scope: 'launch/patient patient/*.rs offline_access',
    storage: createMemoryStorage(),
    ...extra,
  });
}

describe('smartAppLaunch', () => {
  test('standalone: PKCE S256 and aud; the patient picked comes with the token and stays after a refresh', async () => {
    const smart = app();
    const url = await smart.authorizationUrl();
    expect(url.origin + url.pathname).toBe(sb.urls.smart.authorizeEndpoint);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      aud: sb.urls.smart.fhirBaseUrl,
      client_id: demoClients.smartApp.clientId,
      code_challenge_method: 'S256',
      scope: 'launch/patient patient/*.rs offline_access',
      response_type: 'code',
    });
    expect(url.searchParams.has('launch')).toBe(false);
    await smart.handleRedirect(await signInOnSandbox(url));
    expect(await smart.launchContext()).toEqual({
      patient: 'p1',
      needPatientBanner: true,
      smartStyleUrl: `${sb.url}/smart/style.json`,
    });
    const response = await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Patient/p1`);
    expect(response.status).toBe(200);
    // Tokens live 1 s here: the next call refreshes, and the refresh answer has no context.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Observation`)).status).toBe(200);
    const grants = sb
      .tokenRequests({ service: 'smart' })
      .map((r) => new URLSearchParams(r.body.toString()).get('grant_type'));
    expect(grants).toEqual(['authorization_code', 'refresh_token']);
    expect((await smart.launchContext())?.patient).toBe('p1');
    await smart.logout();
    expect(await smart.launchContext()).toBeUndefined();
  });

  test('EHR launch: iss and launch from the launch URL; the launch scope is added; the EHR context comes back', async () => {
    const smart = app({ scope: 'patient/*.rs openid fhirUser' });
    const { iss, launch } = sb.smartLaunch({ patient: 'p3', encounter: 'e-7' });
    const launchedAt = `http://127.0.0.1:5174/launch?iss=${encodeURIComponent(iss)}&launch=${launch}`;
    const url = await smart.authorizationUrl(launchedAt);
    expect(url.searchParams.get('launch')).toBe(launch);
    expect(url.searchParams.get('scope')!.split(' ')).toEqual([
      'launch',
      'patient/*.rs',
      'openid',
      'fhirUser',
    ]);
    await smart.handleRedirect(await signInOnSandbox(url));
    expect(await smart.launchContext()).toMatchObject({
      patient: 'p3',
      encounter: 'e-7',
      needPatientBanner: true,
      fhirUser: `${sb.urls.smart.fhirBaseUrl}/Practitioner/demo`,
    });
    // The next sign-in without a launch URL is a standalone one again.
    expect((await smart.authorizationUrl()).searchParams.has('launch')).toBe(false);
  });

  test('a launch URL naming another FHIR server is refused before anything is sent', async () => {
    const smart = app();
    const error = await smart
      .authorizationUrl(
        `http://127.0.0.1:5174/launch?iss=${encodeURIComponent(sb.urls.elsewhere)}&launch=abc`,
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.AUTHORIZATION_RESPONSE });
    expect(String(error)).toContain('another FHIR server');
    expect(sb.requests).toHaveLength(0);
  });

  test('an unknown launch is an error the server sends back; a wrong aud too', async () => {
    const smart = app();
    const url = await smart.authorizationUrl(
      `http://127.0.0.1:5174/launch?iss=${encodeURIComponent(sb.urls.smart.fhirBaseUrl)}&launch=forged`,
    );
    const back = await fetch(url, { redirect: 'manual' });
    expect(back.status).toBe(302);
    const location = new URL(back.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    await expect(smart.handleRedirect(location)).rejects.toMatchObject({
      code: ErrorCodes.AUTHORIZATION_RESPONSE,
    });
    const wrongAud = new URL(await smart.authorizationUrl());
    wrongAud.searchParams.set('aud', 'https://elsewhere.example/fhir');
    const refused = await fetch(wrongAud, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location')!).searchParams.get('error_description')).toContain(
      'aud must be',
    );
  });

  test("two EHR launches in two tabs: each tab keeps its patient and sends its own launch's token", async () => {
    const store = browserStore();
    const [tab1, tab2] = [tabStorage(), tabStorage()].map((storage) =>
      app({ scope: 'patient/*.rs openid fhirUser offline_access', store, storage }),
    );
    await ehrLaunch(tab1!, 'pA', 'e-A');
    await ehrLaunch(tab2!, 'pB');
    expect(await tab1!.launchContext()).toMatchObject({ patient: 'pA', encounter: 'e-A' });
    expect((await tab2!.launchContext())?.patient).toBe('pB');
    // The sandbox binds a launch's tokens to its patient, as a strict server does.
    expect((await sendThrough(tab1!, `${sb.urls.smart.fhirBaseUrl}/Patient/pA`)).status).toBe(200);
    const sentByTab1 = lastTokenSent();
    expect((await sendThrough(tab2!, `${sb.urls.smart.fhirBaseUrl}/Patient/pB`)).status).toBe(200);
    expect(lastTokenSent()).not.toBe(sentByTab1);
    expect((await sendThrough(tab1!, `${sb.urls.smart.fhirBaseUrl}/Patient/pA`)).status).toBe(200);
    expect(lastTokenSent()).toBe(sentByTab1);
    expect(sb.tokenRequests({ service: 'smart' })).toHaveLength(2); // one code exchange each, nothing else
  });

  test('a tab opened from a launch shares its token; signing out ends that launch only', async () => {
    const store = browserStore();
    const scope = 'patient/*.rs offline_access';
    const storage1 = tabStorage();
    const tab1 = app({ scope, store, storage: storage1 });
    const tab2 = app({ scope, store, storage: tabStorage() });
    await ehrLaunch(tab1, 'pA');
    await ehrLaunch(tab2, 'pB');
    // Opened from tab 1: the browser copies its sessionStorage, so it is in launch A.
    const copy = app({ scope, store, storage: tabStorage(storage1.items) });
    expect(await copy.isSignedIn()).toBe(true);
    expect((await copy.launchContext())?.patient).toBe('pA');
    expect((await sendThrough(copy, `${sb.urls.smart.fhirBaseUrl}/Patient/pA`)).status).toBe(200);
    // A tab opened on its own has no launch: a patient's token is never shared with it.
    const blank = app({ scope, store, storage: tabStorage() });
    expect(await blank.isSignedIn()).toBe(false);
    expect(sb.tokenRequests({ service: 'smart' })).toHaveLength(2);

    expect((await tab1.logout()).revoked.sort()).toEqual(['access_token', 'refresh_token']);
    expect(await copy.isSignedIn()).toBe(false); // the same launch
    expect(await tab1.launchContext()).toBeUndefined();
    expect((await tab2.launchContext())?.patient).toBe('pB'); // another launch
    expect((await sendThrough(tab2, `${sb.urls.smart.fhirBaseUrl}/Patient/pB`)).status).toBe(200);
  });

  test('a standalone sign-in that picks a patient is a launch of its own; one without patient context is shared', async () => {
    const store = browserStore();
    const picker = app({ store, storage: tabStorage() }); // launch/patient: the sandbox picks p1
    await picker.handleRedirect(await signInOnSandbox(await picker.authorizationUrl()));
    expect((await picker.launchContext())?.patient).toBe('p1');
    expect(await app({ store, storage: tabStorage() }).isSignedIn()).toBe(false);

    const userScope = 'openid fhirUser user/*.rs offline_access';
    const signedIn = app({ scope: userScope, store, storage: tabStorage() });
    await signedIn.handleRedirect(await signInOnSandbox(await signedIn.authorizationUrl()));
    const later = app({ scope: userScope, store, storage: tabStorage() });
    expect(await later.isSignedIn()).toBe(true);
    expect(await later.launchContext()).toEqual({
      fhirUser: `${sb.urls.smart.fhirBaseUrl}/Practitioner/demo`,
    });
  });

  test('a refresh with a new ID token and no patient keeps the launch context; what it restates is updated', async () => {
    const smart = app({ scope: 'patient/*.rs openid fhirUser offline_access' });
    await ehrLaunch(smart, 'p9', 'e-1');
    const atLaunch = await smart.launchContext();
    expect(atLaunch).toMatchObject({ patient: 'p9', encounter: 'e-1', fhirUser: expect.any(String) });
    // Tokens live 1 s here: the next read refreshes; the answer has an id_token and no context.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Patient/p9`)).status).toBe(200);
    const refresh = sb.tokenRequests({ service: 'smart' }).at(-1)!;
    expect(refresh.grantType).toBe('refresh_token');
    expect(await smart.launchContext()).toEqual(atLaunch);

    sb.inject('smart-token', { type: 'token-response', fields: { encounter: 'e-2' } }, { times: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Patient/p9`)).status).toBe(200);
    expect(await smart.launchContext()).toEqual({ ...atLaunch, encounter: 'e-2' });
    // Kept: a refresh after it that says nothing of the encounter leaves e-2.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Patient/p9`)).status).toBe(200);
    expect(await smart.launchContext()).toEqual({ ...atLaunch, encounter: 'e-2' });
  });

  test('a confidential symmetric client: client_secret_basic on the code exchange and the refresh', async () => {
    const { clientId, clientSecret } = demoClients.smartConfidentialApp;
    const smart = app({ clientId, clientSecret });
    await smart.handleRedirect(await signInOnSandbox(await smart.authorizationUrl()));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sendThrough(smart, `${sb.urls.smart.fhirBaseUrl}/Patient/p1`)).status).toBe(200);
    expect(sb.tokenRequests({ service: 'smart' })).toMatchObject([
      { grantType: 'authorization_code', clientAuth: 'client_secret_basic', status: 200 },
      { grantType: 'refresh_token', clientAuth: 'client_secret_basic', status: 200 },
    ]);
    const wrong = app({ clientId, clientSecret: 'not-the-secret-4f9a' });
    const error = await wrong
      .handleRedirect(await signInOnSandbox(await wrong.authorizationUrl()))
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_client');
    expect(JSON.stringify(error) + String(error)).not.toContain('not-the-secret-4f9a');
  });

  test('a confidential asymmetric client: private_key_jwt (ES384) on the code exchange', async () => {
    const { clientId, kid } = demoClients.smartAsymmetricApp;
    const key = await crypto.subtle.importKey(
      'jwk',
      { ...demoClients.smartBackend.privateJwk },
      { name: 'ECDSA', namedCurve: 'P-384' },
      false,
      ['sign'],
    );
    const smart = app({ clientId, privateKey: { key, kid } });
    await smart.handleRedirect(await signInOnSandbox(await smart.authorizationUrl()));
    expect((await smart.launchContext())?.patient).toBe('p1');
    expect(sb.tokenRequests({ service: 'smart' })).toMatchObject([
      { grantType: 'authorization_code', clientAuth: 'private_key_jwt', status: 200 },
    ]);
    // The public client's way (no client authentication) is refused for it.
    const bare = app({ clientId });
    const error = await bare
      .handleRedirect(await signInOnSandbox(await bare.authorizationUrl()))
      .catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.error).toBe('invalid_client');
  });

  test('options: bad ones fail naming the option', () => {
    expect(() => app({ fhirBaseUrl: 'http://ehr.example.org/fhir' })).toThrow(
      expect.objectContaining({ option: 'fhirBaseUrl' }) as Error,
    );
    expect(() => app({ scope: ' ' })).toThrow(ConfigError);
    expect(() => app({ redirectUri: 'not a url' })).toThrow(
      expect.objectContaining({ option: 'redirectUri' }) as Error,
    );
    const signer = { alg: 'ES384', kid: 'k', sign: () => 'x.y.z' };
    expect(() => app({ clientSecret: 's', signer })).toThrow(
      expect.objectContaining({ option: 'signer' }) as Error,
    );
    expect(() => app({ signer: { ...signer, alg: 'RS256' } })).toThrow(
      expect.objectContaining({ option: 'signer.alg' }) as Error,
    );
    expect(() => app({ clientSecret: '' })).toThrow(
      expect.objectContaining({ option: 'clientSecret' }) as Error,
    );
    expect(() => app({ store: createMemoryTokenStore() })).toThrow(ConfigError); // a shared store needs session
  });
});
