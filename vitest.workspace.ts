/**
 * The one list of test projects. vitest 4 no longer reads this file by name, so
 * `vitest.config.ts` imports it as `test.projects`; `scripts/vitest-projects.test.ts`
 * proves every folder with tests is listed here and that vitest really runs this list.
 */
import type { TestProjectInlineConfiguration } from 'vitest/config';

/** A workspace folder with tests, and options of its own. */
function project(
  root: string,
  test: NonNullable<TestProjectInlineConfiguration['test']> = {},
): TestProjectInlineConfiguration {
  return { extends: true, test: { name: root.split('/').pop()!, root, ...test } };
}

export const projects: TestProjectInlineConfiguration[] = [
  project('packages/core'),
  project('packages/oauth2'),
  project('packages/msk-apim'),
  project('packages/okta'),
  project('packages/medblocks'),
  project('packages/smart'),
  project('packages/opentelemetry'),
  project('packages/sandbox'),
  project('packages/fetch'),
  project('packages/ky'),
  project('packages/axios'),
  project('packages/undici'),
  project('packages/redis'),
  project('packages/node'),
  project('packages/conformance'),
  project('packages/tsyringe', { setupFiles: ['reflect-metadata'] }),
  project('examples/demo'),
  project('examples/fetch-msk-blaze'),
  project('examples/ky-okta-ctrp'),
  project('examples/axios-medblocks'),
  project('examples/smart-backend-services'),
  project('examples/device-cli'),
  project('examples/mtls-node'),
  project('examples/undici-global'),
  project('examples/token-exchange-gateway'),
  project('examples/workload-identity'),
  project('examples/fleet-redis', { testTimeout: 60_000, hookTimeout: 60_000 }),
  project('examples/script-token-cache', { testTimeout: 60_000 }),
  project('examples/tsyringe-service', { setupFiles: ['reflect-metadata'] }),
  project('examples/spa-medblocks-pkce', { testTimeout: 60_000, hookTimeout: 60_000 }),
  project('scripts'),
  project('bench'),
];
