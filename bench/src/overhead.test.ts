// The benchmark harness works: a tiny run produces a ratio for every client and peer.
// It checks the harness, never the numbers (timing never decides a test).
import { expect, test } from 'vitest';
import { runOverhead, toMarkdown } from './overhead.js';

test('a smoke run of the overhead workload measures every client, adapter and peer', async () => {
  const result = await runOverhead({
    rounds: 1,
    perRound: 5,
    warmup: 2,
    concurrencies: [1, 2],
    microCalls: 50,
  });
  expect(result.reports.map((r) => r.concurrency)).toEqual([1, 2]);
  for (const report of result.reports) {
    expect(report.families.map((f) => f.family)).toEqual(['fetch', 'ky', 'axios']);
    for (const { results } of report.families) {
      expect(results[0]?.wallRatio.median).toBe(1); // the bare client is the baseline
      for (const r of results) {
        expect(r.median.wallUs).toBeGreaterThan(0);
        expect(Number.isFinite(r.wallRatio.median) && r.wallRatio.median > 0).toBe(true);
        expect(Number.isFinite(r.cpuRatio.median) && r.cpuRatio.median > 0).toBe(true);
      }
    }
  }
  expect(Object.values(result.micro).every((ns) => ns > 0)).toBe(true);
  expect(result.added.map((m) => m.name)).toEqual([
    'fetch (answers at once)',
    '@authrail/fetch (answers at once)',
    'ky 2 (answers at once)',
    '@authrail/ky (answers at once)',
    'axios (answers at once)',
    '@authrail/axios (answers at once)',
  ]);
  const markdown = toMarkdown(result);
  for (const name of [
    '@authrail/fetch',
    '@authrail/ky',
    '@authrail/axios',
    'axios-auth-refresh',
    'OAuth2Fetch',
  ])
    expect(markdown).toContain(name);
}, 60_000);
