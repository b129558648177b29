// `pnpm --filter @authrail-examples/spa-medblocks-pkce start`: the sandbox and the SPA's
// dev server; MEDBLOCKS_BASE_URL and MEDBLOCKS_CLIENT_ID point it at a real Medblocks.
import { startApp } from './app-server.js';

const env = process.env;
const app = await startApp({
  port: Number(env.PORT ?? 5173),
  ...(env.MEDBLOCKS_BASE_URL && env.MEDBLOCKS_CLIENT_ID
    ? { medblocks: { baseUrl: env.MEDBLOCKS_BASE_URL, clientId: env.MEDBLOCKS_CLIENT_ID } }
    : {}),
});
console.log(`SPA: ${app.url}`);
if (app.sandbox)
  console.log(`Medblocks sandbox: ${app.sandbox.urls.medblocks.baseUrl} (sign in as demo / demo)`);
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
