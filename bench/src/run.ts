// `pnpm bench`: every workload of issue 11 in one run — overhead, cold start, expiry under
// load, revocation storm, memory, fleet — against local servers, authrail beside the bare
// clients and the peers. Writes results/latest.md (tables, each figure beside its target),
// results/latest.json and results/latest.svg.
//
//   pnpm bench            the full run (under 10 minutes on a 2-core machine)
//   pnpm bench --quick    a smoke run: checks the harness, not the numbers; writes nothing
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { overheadChart } from './chart.js';
import { report } from './harness.js';
import {
  FULL as FLEET_FULL,
  QUICK as FLEET_QUICK,
  runFleetBench,
  toMarkdown as fleetMarkdown,
  type FleetResult,
} from './fleet.js';
import {
  FULL as OVERHEAD_FULL,
  QUICK as OVERHEAD_QUICK,
  runOverhead,
  toMarkdown as overheadMarkdown,
  type OverheadOptions,
  type OverheadResult,
} from './overhead.js';
import {
  FULL as WORKLOADS_FULL,
  QUICK as WORKLOADS_QUICK,
  runWorkloads,
  toMarkdown as workloadsMarkdown,
  type WorkloadOptions,
  type WorkloadsResult,
} from './workloads.js';

/** Per-request overhead target (issue 11) and the credential step's, in ns. */
export const OVERHEAD_TARGET = 1.02;
export const CREDENTIAL_TARGET_NS = 500;

/** Overhead in `pnpm bench`: fewer rounds than `pnpm bench:overhead`, to fit the whole run in 10 minutes. */
const OVERHEAD_IN_BENCH: OverheadOptions = { ...OVERHEAD_FULL, rounds: 20, warmup: 500, microCalls: 100_000 };

export interface BenchResult {
  node: string;
  cpus: string;
  commit: string;
  startedAt: string;
  durationS: number;
  overhead: OverheadResult;
  workloads: WorkloadsResult;
  fleet: FleetResult;
  checks: Check[];
}

/** One figure beside its target. */
export interface Check {
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchOptions {
  overhead: OverheadOptions;
  workloads: WorkloadOptions;
  fleet: typeof FLEET_FULL;
}

export const FULL: BenchOptions = {
  overhead: OVERHEAD_IN_BENCH,
  workloads: WORKLOADS_FULL,
  fleet: { ...FLEET_FULL, seconds: 10 },
};
export const QUICK: BenchOptions = {
  overhead: OVERHEAD_QUICK,
  workloads: WORKLOADS_QUICK,
  fleet: FLEET_QUICK,
};

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} + uncommitted changes` : sha;
  } catch {
    return 'unknown';
  }
}

/** Every figure with a target, authrail's only: the peers' are in the tables. */
export function checks(result: Omit<BenchResult, 'checks'>): Check[] {
  const out: Check[] = [];
  const add = (what: string, target: string, measured: string, met: boolean) =>
    out.push({ what, target, measured, met });
  for (const report of result.overhead.reports) {
    for (const { results } of report.families) {
      for (const r of results.filter((m) => m.name.startsWith('@authrail/'))) {
        add(
          `overhead, ${r.name}, concurrency ${report.concurrency}`,
          `≤ ${OVERHEAD_TARGET.toFixed(2)}× the bare client`,
          `${r.wallRatio.median.toFixed(3)}× [95 % CI ${r.wallRatio.low.toFixed(3)}–${r.wallRatio.high.toFixed(3)}] (CPU ${r.cpuRatio.median.toFixed(3)}×)`,
          r.wallRatio.median <= OVERHEAD_TARGET,
        );
      }
    }
  }
  const credential = Object.entries(result.overhead.micro).find(([what]) =>
    what.startsWith('credential step'),
  );
  if (credential)
    add(
      'credential step alone',
      `≤ ${CREDENTIAL_TARGET_NS} ns`,
      `${credential[1].toFixed(0)} ns`,
      credential[1] <= CREDENTIAL_TARGET_NS,
    );
  const micro = result.overhead.micro;
  const proof = micro['DPoP: one proof, ES256 (ns)'];
  const withDpop = micro['DPoP: send() answering at once with a DPoP token (ns)'];
  const withBearer = micro['DPoP: the same with a bearer token, for the ratio (ns)'];
  if (proof !== undefined && withDpop !== undefined && withBearer !== undefined)
    add(
      'DPoP: a proof per request (ES256), and core with DPoP / with Bearer',
      'reported (no target)',
      `${(proof / 1000).toFixed(1)} µs per proof; ${(withDpop / withBearer).toFixed(1)}× core's own time per request`,
      true,
    );
  const ours = (name: string) => name.startsWith('@authrail/');
  for (const r of result.workloads.cold.filter((c) => ours(c.contender)))
    add(
      `cold start, ${r.contender}: token requests / failures`,
      '1 / 0',
      `${r.tokenRequests} / ${r.failures}`,
      r.tokenRequests === 1 && r.failures === 0,
    );
  for (const r of result.workloads.expiry.filter((c) => ours(c.contender))) {
    add(
      `expiry, ${r.contender}: token requests per lifetime`,
      '1',
      r.perLifetime.toFixed(2),
      r.perLifetime <= 1.1,
    );
    // A token request a caller waited for is one authrail made for any reason but a refresh
    // in the background (its events say which); the server cannot tell them apart.
    const waitedFor = Object.entries(r.reasons ?? {}).reduce(
      (n, [why, count]) => (why === 'refresh-ahead' ? n : n + count),
      0,
    );
    add(
      `expiry, ${r.contender}: token requests a caller waited for / 401s / failures`,
      '0 / 0 / 0',
      `${waitedFor} / ${r.unauthorized} / ${r.failures}`,
      r.reasons !== undefined && waitedFor + r.unauthorized + r.failures === 0,
    );
    const ratio = r.near.p99 / r.elsewhere.p99;
    add(
      `expiry, ${r.contender}: p99 near a refresh / elsewhere`,
      '≤ 1.1',
      Number.isFinite(ratio) ? ratio.toFixed(2) : '—',
      ratio <= 1.1,
    );
  }
  for (const r of result.workloads.storm.filter((c) => ours(c.contender)))
    add(
      `revocation storm, ${r.contender}: token requests / replays / failures`,
      `1 / ${r.inFlight} / 0`,
      `${r.tokenRequests} / ${r.replays} / ${r.failures}`,
      r.tokenRequests === 1 && r.replays === r.inFlight && r.failures === 0,
    );
  for (const r of result.workloads.memory)
    add(
      `memory, ${r.contender}: heap growth / timers / listeners`,
      '< 1,024 KB / equal / equal',
      `${r.heapGrowthKb.toFixed(0)} KB / ${r.timersBefore} → ${r.timersAfter} / ${r.listenersBefore} → ${r.listenersAfter}`,
      r.heapGrowthKb < 1024 && r.timersAfter === r.timersBefore && r.listenersAfter === r.listenersBefore,
    );
  const memoryRun = result.fleet.runs.find((r) => r.store === 'memory');
  const redisRun = result.fleet.runs.find((r) => r.store === 'redis');
  if (memoryRun && redisRun) {
    const oneProcess = memoryRun.tokenRequests / result.fleet.options.workers;
    add(
      `fleet, ${result.fleet.options.workers} processes on Redis: token requests`,
      `what one process makes (~${oneProcess.toFixed(0)})`,
      `${redisRun.tokenRequests} (memory stores: ${memoryRun.tokenRequests})`,
      redisRun.tokenRequests <= Math.ceil(oneProcess * 1.2) + 1 && redisRun.failed === 0,
    );
  }
  return out;
}

const demote = (markdown: string): string => markdown.replace(/^#/gm, '##');

export function toMarkdown(result: BenchResult): string {
  const missed = result.checks.filter((c) => !c.met).length;
  return [
    '# authrail benchmarks: latest run',
    '',
    `Node ${result.node}, ${result.cpus}, commit ${result.commit}, started ${result.startedAt}, took ${result.durationS.toFixed(0)} s. How to read and reproduce it: [bench/README.md](../README.md).`,
    '',
    '![Per-request time over the bare client](latest.svg)',
    '',
    `## Targets (${result.checks.length - missed} of ${result.checks.length} met)`,
    '',
    '| figure | target | measured | |',
    '| --- | --- | --- | --- |',
    ...result.checks.map(
      (c) => `| ${c.what} | ${c.target} | ${c.measured} | ${c.met ? 'met' : '**missed**'} |`,
    ),
    '',
    demote(overheadMarkdown(result.overhead)),
    demote(workloadsMarkdown(result.workloads)),
    demote(fleetMarkdown(result.fleet)),
  ].join('\n');
}

export async function runBench(
  options: BenchOptions,
  progress: (line: string) => void = () => {},
): Promise<BenchResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  progress('overhead (workload 1)');
  const overhead = await runOverhead(options.overhead);
  const workloads = await runWorkloads(options.workloads, progress);
  progress('fleet (workload 6)');
  const fleet = await runFleetBench(options.fleet);
  const partial = {
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
    commit: commit(),
    startedAt,
    durationS: (Date.now() - started) / 1000,
    overhead,
    workloads,
    fleet,
  };
  return { ...partial, checks: checks(partial) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const result = await runBench(quick ? QUICK : FULL, (line) =>
    process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  );
  report('latest', toMarkdown(result), result, quick, {
    'latest.svg': overheadChart(result.overhead.reports, OVERHEAD_TARGET),
  });
  // Pools and keep-alive sockets of the peers would keep the process alive for minutes.
  process.exit(0);
}
