// `pnpm bench:instructions` works: a tiny run under valgrind gives an instruction count per
// request for every client, bare and through authrail. It checks the harness, never the
// numbers (no count decides a test).
import { expect, test } from 'vitest';
import { runInstructions, toMarkdown } from './instructions.js';

test('a smoke run of bench:instructions: a count per request, bare and through authrail', async () => {
  // From the sources: the test runs before any build (the figures themselves use dist).
  // ky only (it goes through the fetch adapter too): each valgrind run costs ~10 s of start-up.
  // 400 requests counted: start-up varies by millions of instructions between two runs (JIT
  // and GC timing), which 20 requests (~12 M) did not outweigh — a negative count, seen in CI.
  const result = await runInstructions(20, 400, 'source', ['ky']);
  expect(result.rows.map((row) => row.family)).toEqual(['ky']);
  for (const row of result.rows) {
    // Start-up cancels out between the two runs; what is left is the requests' own work.
    expect(row.bare).toBeGreaterThan(1_000);
    expect(row.authrail).toBeGreaterThan(1_000);
  }
  const markdown = toMarkdown(result);
  expect(markdown).toMatch(/\| ky \| [\d.]+ K \| [\d.]+ K \| -?[\d.]+ K \| [\d.]+ \|/);
}, 600_000);
