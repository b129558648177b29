// `pnpm bench:compare <ref>` works: against HEAD (checked out in a worktree, installed from
// pnpm's store and built), a tiny run gives a ratio for every adapter and setting. It checks
// the harness, never the numbers (timing never decides a test).
import { expect, test } from 'vitest';
import { runCompare, toMarkdown } from './compare.js';

test('a smoke run of bench:compare against HEAD: a ratio for every adapter and setting', async () => {
  const result = await runCompare('HEAD', { rounds: 1, perRound: 5, warmup: 2 });
  expect(result.sha).toMatch(/^[0-9a-f]{40}$/);
  expect(result.rows.map((r) => r.adapter)).toEqual([
    'fetch',
    'ky',
    'axios',
    'fetch',
    'ky',
    'axios',
    'fetch',
    'ky',
    'axios',
  ]);
  for (const { ours } of result.rows) {
    expect(Number.isFinite(ours.wallRatio.median) && ours.wallRatio.median > 0).toBe(true);
    expect(ours.name).toMatch(/@ working tree$/);
  }
  expect(toMarkdown(result)).toContain('| ky | transport answers at once (CPU) |');
}, 300_000);
