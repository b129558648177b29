import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.js';

// Tests run on `src/` through the `@authrail/source` export condition: no build needed.
const conditions = ['@authrail/source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@authrail/source'] } },
  test: {
    projects,
    passWithNoTests: false,
    testTimeout: 20_000,
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/*.test-d.ts', 'packages/test-utils/**', 'packages/conformance/**'],
      reporter: ['text', 'json-summary'],
    },
  },
});
