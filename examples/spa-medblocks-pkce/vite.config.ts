import { defaultClientConditions, defineConfig } from 'vite';

// Workspace packages are bundled from src/ through the @authrail/source condition.
export default defineConfig({
  resolve: { conditions: ['@authrail/source', ...defaultClientConditions] },
  define: {
    __MEDBLOCKS_BASE_URL__: JSON.stringify(
      process.env.MEDBLOCKS_BASE_URL ?? 'http://127.0.0.1:4010/medblocks',
    ),
    __MEDBLOCKS_CLIENT_ID__: JSON.stringify(process.env.MEDBLOCKS_CLIENT_ID ?? 'medblocks-demo-spa'),
    __REDIRECT_URI__: JSON.stringify(process.env.REDIRECT_URI ?? ''),
  },
});
