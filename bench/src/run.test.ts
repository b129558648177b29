// `pnpm bench` works: a small run of every workload measures authrail, the bare clients and
// every peer, and the report shows each figure beside its target. It checks the harness,
// never the timing (timing never decides a test). What the bench server counts for authrail
// (one token request on a cold start, one per revocation, one replay per request) is
// behaviour, not timing, so it is checked: a harness that miscounted would show here.
import { expect, test } from 'vitest';
import { overheadChart } from './chart.js';
import { CONTENDERS } from './contenders.js';
import { REFERENCE_LAYERS, REFERENCE_WRAPPER } from './overhead.js';
import { OVERHEAD_TARGET, QUICK, runBench, toMarkdown } from './run.js';

test('a smoke run of `pnpm bench`: every workload, every contender, every target in the report', async () => {
  const result = await runBench(QUICK);

  // Workload 1: a ratio for every client, adapter and peer, at each concurrency.
  expect(result.overhead.reports.map((r) => r.concurrency)).toEqual(QUICK.overhead.concurrencies);
  for (const report of result.overhead.reports) {
    expect(report.families.map((f) => f.family)).toEqual([
      'fetch',
      'ky',
      'axios',
      'undici',
      'fetch over an undici Agent',
    ]);
    for (const { results } of report.families) {
      expect(results[0]?.wallRatio.median).toBe(1); // the bare client is the baseline
      for (const r of results) {
        expect(Number.isFinite(r.wallRatio.median) && r.wallRatio.median > 0).toBe(true);
        expect(Number.isFinite(r.cpuRatio.median) && r.cpuRatio.median > 0).toBe(true);
        // Each median sits inside its confidence interval, and that inside the rounds' range.
        for (const { min, low, median, high, max } of [r.wallRatio, r.cpuRatio])
          expect([min <= low, low <= median, median <= high, high <= max]).toEqual([true, true, true, true]);
      }
    }
  }
  expect(Object.values(result.overhead.micro).every((ns) => ns > 0)).toBe(true);

  // Workloads 2–5.
  const names = CONTENDERS.map((c) => c.name);
  const { cold, storm, expiry, memory } = result.workloads;
  expect([cold, storm, expiry].map((rows) => rows.map((r) => r.contender))).toEqual([names, names, names]);
  expect(memory.map((r) => r.contender)).toEqual([
    '@authrail/fetch',
    '@authrail/ky',
    '@authrail/axios',
    '@authrail/undici',
  ]);
  const ours = (r: { contender: string }) => r.contender.startsWith('@authrail/');
  for (const r of cold.filter(ours))
    expect([r.contender, r.tokenRequests, r.failures]).toEqual([r.contender, 1, 0]);
  for (const r of storm.filter(ours))
    expect([r.contender, r.tokenRequests, r.replays, r.failures]).toEqual([
      r.contender,
      1,
      QUICK.workloads.stormRequests,
      0,
    ]);
  for (const r of expiry) expect(r.requests > 0 && r.tokenRequests > 0).toBe(true);
  // authrail's own account of each token request sits beside the server's count.
  for (const r of expiry.filter(ours)) expect(r.reasons).toBeTypeOf('object');
  for (const r of memory) expect([r.failures, Number.isFinite(r.heapGrowthKb)]).toEqual([0, true]);

  // Workload 6.
  expect(result.fleet.runs.map((r) => [r.store, r.failed])).toEqual([
    ['memory', 0],
    ['redis', 0],
  ]);

  // The report: every target beside its figure, every contender named, a chart of ratios.
  expect(result.checks.length).toBeGreaterThan(20);
  const markdown = toMarkdown(result);
  for (const check of result.checks) expect(markdown).toContain(`| ${check.what} | ${check.target} |`);
  for (const name of [
    ...names,
    REFERENCE_WRAPPER,
    REFERENCE_LAYERS,
    'bare fetch',
    'bare ky 2',
    'bare axios',
    'bare undici',
    'bare fetch over an undici Agent',
  ])
    expect(markdown).toContain(name);
  const svg = overheadChart(result.overhead.reports, OVERHEAD_TARGET);
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('@authrail/ky');
  expect(svg).toContain('axios-auth-refresh');
}, 180_000);
