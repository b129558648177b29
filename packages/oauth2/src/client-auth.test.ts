// A client credential read by a function is read at request time: what the function
// returns is checked then, and a bad result is the token request's typed error, not a
// ConfigError (which is for options, at construction). No request is made.
import { expect, test } from 'vitest';
import { ErrorCodes, isTokenEndpointError } from '@authrail/core';
import {
  clientCredentials,
  clientSecretPost,
  privateKeyJwt,
  type ClientAuthentication,
} from '@authrail/oauth2';

async function failure(clientAuth: ClientAuthentication): Promise<unknown> {
  const source = clientCredentials({
    server: { issuer: 'https://as.example.org', tokenEndpoint: 'https://as.example.org/token' },
    clientId: 'svc',
    clientAuth,
    fetch: () => Promise.reject(new Error('no request may be made')),
  });
  return source.fetchToken({}).then(
    () => new Error('got a token'),
    (error: unknown) => error,
  );
}

test.each([
  [
    'a key function that returns no CryptoKey',
    privateKeyJwt(() => ({ kid: 'k' }) as never),
    /the key function returned no CryptoKey/,
  ],
  [
    'a secret function that returns nothing',
    clientSecretPost(() => '' as string),
    /the secret function returned no secret/,
  ],
  [
    'a secret function that returns a lone surrogate',
    clientSecretPost(() => 'abc\ud800'),
    /the secret function returned text that cannot be encoded/,
  ],
])('%s: a typed token-endpoint error, before any request', async (_name, clientAuth, message) => {
  const error = await failure(clientAuth);
  expect(isTokenEndpointError(error)).toBe(true);
  expect(error).toMatchObject({
    code: ErrorCodes.TOKEN_ENDPOINT_UNREACHABLE,
    message: expect.stringMatching(message),
  });
  expect(String((error as Error).message)).not.toMatch(/no request may be made/);
});
