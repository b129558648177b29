// The fleet benchmark's harness works: a tiny run measures both stores and the fast path.
// It checks the harness, never the numbers (timing never decides a test).
import { expect, test } from 'vitest';
import { runFleetBench, toMarkdown } from './fleet.js';

test('a smoke run of the fleet workload measures the memory and the Redis store, and the fast path', async () => {
  const result = await runFleetBench({
    workers: 2,
    seconds: 1,
    everyMs: 50,
    lifetimeSeconds: 2,
    rounds: 1,
    perRound: 20,
  });
  expect(result.runs.map((r) => r.store)).toEqual(['memory', 'redis']);
  for (const run of result.runs) {
    expect(run.requests).toBeGreaterThan(0);
    expect(run.failed).toBe(0);
    expect(run.tokenRequests).toBeGreaterThan(0);
  }
  expect(result.fastPath.map((m) => m.name)).toEqual(['memory store', 'Redis store (fast path)']);
  expect(Number.isFinite(result.commandsPerCachedRequest)).toBe(true);
  expect(toMarkdown(result)).toContain('| redis |');
}, 60_000);
