// A researcher's script, as it runs many times a day: the first run signs in (a browser
// page), every later run uses the token cached in an encrypted file, or its refresh
// token, and asks nobody. `--sign-out` forgets the sign-in (and revokes it).
import { createAuthFetch } from '@authrail/fetch';
import { medblocksAuthorizationCode } from '@authrail/medblocks';
import { createFileTokenStore } from '@authrail/node';
import { signIn } from './sign-in.js';

const env = process.env;
const baseUrl = env.MEDBLOCKS_BASE_URL!;
const redirectUri = env.MEDBLOCKS_REDIRECT_URI ?? 'http://127.0.0.1:8976/callback';

// ~/.cache/authrail (Linux), ~/Library/Caches/authrail (macOS), %LOCALAPPDATA%\authrail
// (Windows) unless AUTHRAIL_CACHE_DIR says otherwise; the key derived from the passphrase.
const store = createFileTokenStore({
  passphrase: env.AUTHRAIL_CACHE_PASSPHRASE!,
  ...(env.AUTHRAIL_CACHE_DIR ? { directory: env.AUTHRAIL_CACHE_DIR } : {}),
  logger: console,
});
const auth = medblocksAuthorizationCode({ baseUrl, clientId: env.MEDBLOCKS_CLIENT_ID!, redirectUri, store });

if (process.argv.includes('--sign-out')) {
  const { revoked } = await auth.logout();
  console.log(`signed out (revoked: ${revoked.sort().join(', ') || 'nothing'})`);
} else {
  if (await auth.isSignedIn()) console.log('using the cached sign-in');
  else {
    await auth.handleRedirect(await signIn(await auth.authorizationUrl(), redirectUri));
    console.log('signed in');
  }
  const api = createAuthFetch(auth);
  const response = await api(`${baseUrl}/fhir/Patient`);
  const bundle = (await response.json()) as { entry?: unknown[] };
  console.log(`${response.status} ${bundle.entry?.length ?? 0} patients`);
}
