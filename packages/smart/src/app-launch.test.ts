// SMART App Launch against the sandbox's SMART server: standalone and EHR launch, PKCE,
// aud, the launch context kept across refreshes, and an iss that names another server refused.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, ErrorCodes } from '@authrail/core';
import { createMemoryStorage } from '@authrail/oauth2';
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

  test('options: bad ones fail naming the option', () => {
    expect(() => app({ fhirBaseUrl: 'http://ehr.example.org/fhir' })).toThrow(
      expect.objectContaining({ option: 'fhirBaseUrl' }) as Error,
    );
    expect(() => app({ scope: ' ' })).toThrow(ConfigError);
    expect(() => app({ redirectUri: 'not a url' })).toThrow(
      expect.objectContaining({ option: 'redirectUri' }) as Error,
    );
  });
});
