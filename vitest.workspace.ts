/**
 * The one list of test projects. vitest 4 no longer reads this file by name, so
 * `vitest.config.ts` imports it as `test.projects`; `scripts/vitest-projects.test.ts`
 * proves every folder with tests is listed here and that vitest really runs this list.
 */
import { configDefaults, type TestProjectInlineConfiguration } from 'vitest/config';

type TestOptions = NonNullable<TestProjectInlineConfiguration['test']>;

/**
 * Most files run two at a time. These run afterwards, one at a time: each loads the whole
 * machine (16 processes, a browser, valgrind, four other runtimes) or holds deadlines that
 * assume the machine is its own.
 */
const ALONE: TestOptions = { sequence: { groupOrder: 1 }, maxWorkers: 1 };
const TOGETHER: TestOptions = { sequence: { groupOrder: 0 }, maxWorkers: 2 };

/** The files of packages/conformance that run alone. */
const CONFORMANCE_ALONE = [
  'src/fleet.test.ts',
  'src/docs-site.test.ts',
  'src/runtimes.test.ts',
  'src/browser.test.ts',
  'src/smart-tabs.test.ts',
];

/** A workspace folder with tests, and options of its own. */
function project(root: string, test: TestOptions = {}): TestProjectInlineConfiguration {
  return { extends: true, test: { name: root.split('/').pop()!, root, ...TOGETHER, ...test } };
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
  project('packages/conformance', { exclude: [...configDefaults.exclude, ...CONFORMANCE_ALONE] }),
  project('packages/conformance', { name: 'conformance-alone', include: CONFORMANCE_ALONE, ...ALONE }),
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
  project('examples/fleet-redis', { testTimeout: 60_000, hookTimeout: 60_000, ...ALONE }),
  project('examples/script-token-cache', { testTimeout: 60_000 }),
  project('examples/tsyringe-service', { setupFiles: ['reflect-metadata'] }),
  project('examples/spa-medblocks-pkce', { testTimeout: 60_000, hookTimeout: 60_000, ...ALONE }),
  project('scripts'),
  project('bench', ALONE),
];
