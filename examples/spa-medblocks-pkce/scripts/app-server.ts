// Starts the SPA (and, unless a real Medblocks is configured, the sandbox) on 127.0.0.1.
// Used by `pnpm start` (dev server) and by the browser test (a production build served
// by vite preview, so no dependency re-optimisation can reload the page mid-test).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type InlineConfig } from 'vite';
import { startSandbox, type Sandbox, type SandboxOptions } from '@authrail/sandbox';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface AppOptions {
  /** `dev` (hot reload) or `preview` (a production build). Default `dev`. */
  mode?: 'dev' | 'preview';
  port?: number;
  /** Options for the embedded sandbox. */
  sandbox?: SandboxOptions;
  /** A real Medblocks instead of the sandbox. */
  medblocks?: { baseUrl: string; clientId: string };
}

export interface App {
  url: string;
  sandbox: Sandbox | undefined;
  close(): Promise<void>;
}

export async function startApp(options: AppOptions = {}): Promise<App> {
  const sandbox = options.medblocks ? undefined : await startSandbox(options.sandbox);
  const medblocks = options.medblocks ?? {
    baseUrl: sandbox!.urls.medblocks.baseUrl,
    clientId: 'medblocks-demo-spa',
  };
  const inline: InlineConfig = {
    root,
    configFile: join(root, 'vite.config.ts'),
    logLevel: 'warn',
    define: {
      __MEDBLOCKS_BASE_URL__: JSON.stringify(medblocks.baseUrl),
      __MEDBLOCKS_CLIENT_ID__: JSON.stringify(medblocks.clientId),
      __REDIRECT_URI__: JSON.stringify(''),
    },
  };
  const port = options.port ?? 0;
  if (options.mode === 'preview') {
    const outDir = await mkdtemp(join(tmpdir(), 'authrail-spa-'));
    await build({ ...inline, build: { outDir, emptyOutDir: true } });
    const server = await preview({
      ...inline,
      build: { outDir },
      preview: { host: '127.0.0.1', port, strictPort: port !== 0 },
    });
    const url = server.resolvedUrls?.local[0] ?? '';
    return {
      url,
      sandbox,
      async close() {
        await server.close();
        await sandbox?.close();
        await rm(outDir, { recursive: true, force: true });
      },
    };
  }
  const server = await createServer({
    ...inline,
    server: { host: '127.0.0.1', port, strictPort: port !== 0 },
  });
  await server.listen();
  return {
    url: server.resolvedUrls?.local[0] ?? '',
    sandbox,
    async close() {
      await server.close();
      await sandbox?.close();
    },
  };
}
