// The one sign-in: the user opens the authorize URL in a browser, and the server sends the
// browser back to a listener on the loopback redirect URI (RFC 8252 §7.3). Against the
// sandbox (SANDBOX_USER=1) this plays the sandbox's demo user instead of a person.
import { createServer } from 'node:http';
import { demoClients } from '@authrail/sandbox';

/** Resolves with the URL the browser was sent back to (with the code, or an error). */
export function signIn(authorizeUrl: URL, redirectUri: string): Promise<string> {
  if (process.env.SANDBOX_USER) return playSandboxUser(authorizeUrl);
  const target = new URL(redirectUri);
  return new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      const back = new URL(request.url ?? '/', target);
      if (back.pathname !== target.pathname) return void response.writeHead(404).end();
      response.end('Signed in: you can close this tab.');
      server.close();
      resolve(back.href);
    });
    server.once('error', reject);
    server.listen(Number(target.port), target.hostname, () =>
      console.log(`Sign in by opening this page in your browser:\n  ${authorizeUrl.href}`),
    );
  });
}

/** The sandbox's sign-in form, posted as its demo user would. */
async function playSandboxUser(authorizeUrl: URL): Promise<string> {
  const form = new URLSearchParams(authorizeUrl.searchParams);
  form.set('username', demoClients.user.username);
  form.set('password', demoClients.user.password);
  form.set('decision', 'allow');
  const back = await fetch(authorizeUrl.origin + authorizeUrl.pathname, {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  await back.arrayBuffer();
  return back.headers.get('location') ?? '';
}
