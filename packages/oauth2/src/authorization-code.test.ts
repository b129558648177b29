// The code flow's own checks of a redirect, with no server: the endpoints are given, so
// the authorize URL is built without a request, and these redirects are refused before
// any code exchange.
import { expect, test } from 'vitest';
import { authorizationCode, createMemoryStorage } from '@authrail/oauth2';

const CALLBACK = 'https://app.example.org/callback';

function source() {
  return authorizationCode({
    server: {
      issuer: 'https://as.example.org',
      tokenEndpoint: 'https://as.example.org/token',
      authorizationEndpoint: 'https://as.example.org/authorize',
    },
    clientId: 'spa',
    redirectUri: CALLBACK,
    storage: createMemoryStorage(),
  });
}

test('a redirect with a pending state but no code is missing_code, and uses that sign-in up', async () => {
  const flow = source();
  const state = (await flow.authorizationUrl()).searchParams.get('state');
  await expect(flow.handleRedirect(`${CALLBACK}?state=${state}`)).rejects.toMatchObject({
    name: 'AuthorizationResponseError',
    error: 'missing_code',
    message: 'the redirect carries no code',
  });
  await expect(flow.handleRedirect(`${CALLBACK}?state=${state}&code=c`)).rejects.toMatchObject({
    error: 'no_pending_authorization',
  });
});

test('storage without getItem, setItem and removeItem is refused at construction', () => {
  expect(() =>
    authorizationCode({
      server: { issuer: 'https://as.example.org', discovery: true },
      clientId: 'spa',
      redirectUri: CALLBACK,
      storage: { getItem: () => null } as never,
    }),
  ).toThrow(/^storage: must have getItem, setItem and removeItem$/);
});
