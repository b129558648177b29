// `pnpm bench:compare <git-ref>`: workload 1 (overhead with a cached token) on the working
// tree and on another commit, in one process run with interleaved rounds, so a change can
// be checked for a regression before it lands. The other commit is checked out in a git
// worktree under the system's temp directory, installed from pnpm's store and built, and
// removed when the run ends.
//
//   pnpm bench:compare main          the working tree against main
//   pnpm bench:compare HEAD~3 --quick
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import ky from 'ky';
import { compare, formatRatio, startServer, type Measured, type Variant } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.bench-access-token-with-a-realistic-length.signature-0123456789';

/** What the comparison loads from one tree's built packages. */
interface Tree {
  label: string;
  core: {
    createAuthStrategy(options: Record<string, unknown>): {
      send: unknown;
      tokens: { getToken(): Promise<unknown> };
    };
    createToken(input: { accessToken: string; expiresIn: number }): unknown;
  };
  fetch: { createAuthFetch(strategy: unknown, options?: Record<string, unknown>): typeof fetch };
  ky: { createAuthKy(strategy: unknown, options?: Record<string, unknown>): typeof ky };
  axios: { attachAuth(instance: unknown, strategy: unknown): unknown };
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Checks `ref` out in a worktree, installs and builds it (removed again when the run ends). */
function prepare(ref: string): { dir: string; sha: string } {
  const sha = run('git', ['rev-parse', '--verify', `${ref}^{commit}`], ROOT).trim();
  const dir = join(tmpdir(), `authrail-compare-${sha.slice(0, 12)}`);
  if (!existsSync(join(dir, 'packages/core/dist/index.js'))) {
    if (!existsSync(dir)) run('git', ['worktree', 'add', '--detach', dir, sha], ROOT);
    // The pnpm `npm test` installed, else the one running this script, else pnpm on PATH.
    const local = join(ROOT, '.tools/node_modules/pnpm/bin/pnpm.cjs');
    const execpath = process.env.npm_execpath;
    const pnpm = existsSync(local) ? local : execpath?.includes('pnpm') ? execpath : undefined;
    const [command, prefix] = pnpm ? [process.execPath, [pnpm]] : ['pnpm', []];
    try {
      try {
        run(command, [...prefix, 'install', '--frozen-lockfile', '--offline', '--ignore-scripts'], dir);
      } catch {
        run(command, [...prefix, 'install', '--frozen-lockfile', '--ignore-scripts'], dir);
      }
      run(command, [...prefix, 'run', 'build'], dir);
    } catch (error) {
      run('git', ['worktree', 'remove', '--force', dir], ROOT);
      throw error;
    }
  }
  return { dir, sha };
}

/** The other commit's packages, from its worktree's dist. */
async function loadBuilt(root: string, label: string): Promise<Tree> {
  const from = (name: string) => import(pathToFileURL(join(root, 'packages', name, 'dist/index.js')).href);
  const [core, fetchAdapter, kyAdapter, axiosAdapter] = await Promise.all(
    ['core', 'fetch', 'ky', 'axios'].map(from),
  );
  return { label, core, fetch: fetchAdapter, ky: kyAdapter, axios: axiosAdapter } as Tree;
}

/** The working tree's packages, as this process resolves them (dist when run by the bench scripts). */
async function loadOwn(): Promise<Tree> {
  const [core, fetchAdapter, kyAdapter, axiosAdapter] = await Promise.all([
    import('@authrail/core'),
    import('@authrail/fetch'),
    import('@authrail/ky'),
    import('@authrail/axios'),
  ]);
  return {
    label: 'working tree',
    core,
    fetch: fetchAdapter,
    ky: kyAdapter,
    axios: axiosAdapter,
  } as unknown as Tree;
}

async function clients(tree: Tree, origin: string, transport?: () => Promise<Response>) {
  const source = {
    identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'bench' },
    fetchToken: () => Promise.resolve(tree.core.createToken({ accessToken: TOKEN, expiresIn: 24 * 3600 })),
  };
  const strategy = tree.core.createAuthStrategy({ source, origins: [origin] });
  await strategy.tokens.getToken();
  const url = `${origin}/fhir/Patient`;
  const canned = (config: InternalAxiosRequestConfig) =>
    Promise.resolve({ data: '{}', status: 200, statusText: 'OK', headers: {}, config, request: {} });
  const authFetch = tree.fetch.createAuthFetch(strategy, transport ? { fetch: transport } : {});
  const authKy = tree.ky.createAuthKy(strategy, { ky, retry: 0, ...(transport ? { fetch: transport } : {}) });
  const authAxios = axios.create(transport ? { adapter: canned } : {});
  tree.axios.attachAuth(authAxios, strategy);
  return {
    fetch: () => authFetch(url).then((r) => r.text()),
    ky: () => authKy.get(url).text(),
    axios: () => authAxios.get(url),
  };
}

export interface CompareResult {
  ref: string;
  sha: string;
  /** Working tree over the other commit, per adapter: on the wire and with a transport that answers at once. */
  rows: { adapter: string; setting: string; ours: Measured }[];
}

export async function runCompare(
  ref: string,
  options: { rounds: number; perRound: number; warmup: number },
): Promise<CompareResult> {
  const { dir, sha } = prepare(ref);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const [tree, other] = [await loadOwn(), await loadBuilt(dir, ref)];
    server = await startServer();
    const answer = () => Promise.resolve(new Response('{"resourceType":"Bundle"}', { status: 200 }));
    const rows: CompareResult['rows'] = [];
    const settings: [string, (() => Promise<Response>) | undefined, number][] = [
      ['loopback server, concurrency 1', undefined, 1],
      ['loopback server, concurrency 64', undefined, 64],
      ['transport answers at once (CPU)', answer, 1],
    ];
    for (const [setting, transport, concurrency] of settings) {
      const theirs = await clients(other, server.url, transport);
      const ours = await clients(tree, server.url, transport);
      for (const adapter of ['fetch', 'ky', 'axios'] as const) {
        const variants: Variant[] = [
          { name: `${adapter} @ ${ref}`, send: theirs[adapter] },
          { name: `${adapter} @ working tree`, send: ours[adapter] },
        ];
        const perRound = transport ? options.perRound * 4 : options.perRound;
        const [, measured] = await compare(variants, { ...options, perRound, concurrency });
        rows.push({ adapter, setting, ours: measured! });
      }
    }
    return { ref, sha, rows };
  } finally {
    server?.stop();
    // Nothing left behind: the worktree (and its install) goes with the run.
    run('git', ['worktree', 'remove', '--force', dir], ROOT);
  }
}

export function toMarkdown(result: CompareResult): string {
  return [
    `# Working tree vs ${result.ref} (${result.sha.slice(0, 12)}), workload 1`,
    '',
    'Ratio of the working tree to the other commit in interleaved rounds of one run (below 1: the working tree is faster). A 1.000 inside the 95 % confidence interval [low–high] means this run measured no difference.',
    '',
    '| adapter | setting | wall ratio: median [95 % CI] (min–max) | CPU ratio: median [95 % CI] (min–max) |',
    '| --- | --- | --- | --- |',
    ...result.rows.map(
      ({ adapter, setting, ours: m }) =>
        `| ${adapter} | ${setting} | ${formatRatio(m.wallRatio)} | ${formatRatio(m.cpuRatio)} |`,
    ),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ref = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
  if (!ref) {
    process.stderr.write('usage: pnpm bench:compare <git-ref> [--quick]\n');
    process.exit(2);
  }
  const quick = process.argv.includes('--quick');
  const result = await runCompare(
    ref,
    quick ? { rounds: 2, perRound: 50, warmup: 20 } : { rounds: 40, perRound: 250, warmup: 2_000 },
  );
  process.stdout.write(toMarkdown(result));
  process.exit(0);
}
