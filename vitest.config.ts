import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.js';

// Tests run on `src/` through the `@authrail/source` export condition: no build needed.
// Otherwise packages resolve as Node resolves them (no bundler-only `module` condition:
// @opentelemetry/api's `module` build is not valid Node ESM).
const conditions = ['@authrail/source', 'import', 'node', 'default'];

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
