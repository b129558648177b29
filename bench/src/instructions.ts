// Instructions per request, bare vs through authrail, for fetch, ky, axios and undici with a transport
// that answers at once: a figure a shared machine's timing noise cannot move, for checking
// a change to the request path. Each variant runs under valgrind (cachegrind, no cache
// simulation) for N and N + 10,000 requests; the difference over 10,000 is its cost per
// request, start-up and warm-up excluded. Needs valgrind (`apt-get install valgrind`).
//
//   pnpm bench:instructions           about 6 minutes on 2 cores
//   pnpm bench:instructions --quick   a smoke run: checks the harness, not the numbers
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { report } from './harness.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./instructions-child.mjs', import.meta.url));
/** The clients counted. */
export type Family = 'fetch' | 'ky' | 'axios' | 'undici';
const FAMILIES: readonly Family[] = ['fetch', 'ky', 'axios', 'undici'];

/** One client's instructions per request, bare and through authrail. */
export interface Counted {
  family: string;
  bare: number;
  authrail: number;
}

/** A run's figures and how they were taken. */
export interface InstructionsResult {
  node: string;
  warmup: number;
  measured: number;
  rows: Counted[];
}

/**
 * How the child loads authrail: from the built packages (what users install; the
 * default), or from the TypeScript sources (the smoke test, which runs before any build).
 */
export type Load = 'dist' | 'source';

/**
 * The child's file: itself, which imports the built packages, or for `source` one file
 * esbuild bundles from the TypeScript sources, so that valgrind counts no TypeScript
 * loader (a smoke run of one variant took 40 s through tsx's loader, 26 s bundled).
 */
async function childFor(load: Load): Promise<string> {
  if (load === 'dist') return CHILD;
  const { build } = await import('esbuild');
  const outfile = fileURLToPath(new URL('../node_modules/.cache/instructions-child.mjs', import.meta.url));
  await build({
    entryPoints: [CHILD],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    conditions: ['@authrail/source'],
    external: ['ky', 'axios', 'undici'],
    logLevel: 'warning',
  });
  return outfile;
}

/** Instructions valgrind counted for one run of the child. */
async function instructions(variant: string, requests: number, child: string): Promise<number> {
  const { stderr } = await run(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      // One thread and no timing-driven heuristics: the same count on every run. Fixed
      // seeds too: with a random hash seed the same code's count moved by up to 3 % per
      // request between runs (bare fetch 154.7 K to 174.5 K); with these, by 0.1 %.
      '--single-threaded',
      '--predictable',
      '--hash-seed=1',
      '--random-seed=1',
      child,
      variant,
      String(requests),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const match = /I\s+refs:\s+([\d,]+)/.exec(stderr);
  if (!match)
    throw new Error(`valgrind printed no instruction count for ${variant}:\n${stderr.slice(-2000)}`);
  return Number(match[1]!.replaceAll(',', ''));
}

async function perRequest(variant: string, warmup: number, measured: number, child: string): Promise<number> {
  const [base, more] = await Promise.all([
    instructions(variant, warmup, child),
    instructions(variant, warmup + measured, child),
  ]);
  return (more - base) / measured;
}

/** Runs `tasks` with at most `limit` at once. */
async function limited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const index = next++;
        out[index] = await tasks[index]!();
      }
    }),
  );
  return out;
}

/** Counts every client's instructions per request, bare and through authrail. */
export async function runInstructions(
  warmup: number,
  measured: number,
  load: Load = 'dist',
  families: readonly Family[] = FAMILIES,
): Promise<InstructionsResult> {
  try {
    await run('valgrind', ['--version']);
  } catch {
    throw new Error('valgrind is not installed: apt-get install valgrind (Debian/Ubuntu)');
  }
  const child = await childFor(load);
  // Each perRequest runs two valgrinds at once.
  const parallel = Math.max(1, Math.floor(availableParallelism() / 2));
  const tasks = families.flatMap((family) => [
    () => perRequest(`${family} bare`, warmup, measured, child),
    () => perRequest(`${family} authrail`, warmup, measured, child),
  ]);
  const counts = await limited(tasks, parallel);
  const rows: Counted[] = families.map((family, i) => ({
    family,
    bare: counts[2 * i]!,
    authrail: counts[2 * i + 1]!,
  }));
  return { node: process.version, warmup, measured, rows };
}

/** The run as the markdown report. */
export function toMarkdown({ node, warmup, measured, rows }: InstructionsResult): string {
  const k = (n: number) => `${(n / 1000).toFixed(1)} K`;
  return [
    '# Instructions per request',
    '',
    `Node ${node}; valgrind cachegrind, ${measured.toLocaleString('en')} requests after ${warmup.toLocaleString('en')}, with a transport that answers at once (fetch and ky: a \`fetch\` that builds its \`Request\`, then answers; axios: an adapter that answers; undici: \`undici.request\` over a \`MockAgent\`, bare and composed with \`@authrail/undici\`).`,
    '',
    '| client | bare | through authrail | added | ratio |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.family} | ${k(row.bare)} | ${k(row.authrail)} | ${k(row.authrail - row.bare)} | ${(row.authrail / row.bare).toFixed(3)} |`,
    ),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const result = quick ? await runInstructions(50, 50) : await runInstructions(2_000, 10_000);
  report('instructions', toMarkdown(result), result, quick);
}
