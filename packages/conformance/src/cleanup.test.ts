// Cleanup and memory (issue 9): what authrail leaves behind once its callers are done,
// measured in a process of its own (cleanup/child.ts) so that the process ending by
// itself is part of the evidence.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { runChild, type ChildRun } from '@authrail/test-utils';
import type { CleanupReport } from './cleanup/child.js';

const CHILD = fileURLToPath(new URL('./cleanup/child.ts', import.meta.url));
/** Heap growth over 10,000 rotations that counts as "does not grow" (GC noise is ~100 KB). */
const HEAP_BUDGET_BYTES = 1024 * 1024;

let run: ChildRun<CleanupReport>;
beforeAll(async () => {
  run = await runChild<CleanupReport>(CHILD, [], { nodeArgs: ['--expose-gc'] });
  console.info(`cleanup: ${JSON.stringify(run.report?.rotation)}`);
}, 120_000);

describe('cleanup and memory (issue 9)', () => {
  test('each adapter: requests succeed, replay and give up as they should (the run is not vacuous)', () => {
    expect(run.report?.adapters.map((a) => [a.adapter, a.ok, a.aborted, a.failed])).toEqual([
      ['fetch', 121, 5, []],
      ['ky 1', 121, 5, []],
      ['ky 2', 121, 5, []],
      ['axios', 121, 5, []],
    ]);
  });

  test('no abort listener left on the caller’s signals, no listener left on process', () => {
    for (const a of run.report?.adapters ?? [])
      expect({ adapter: a.adapter, signal: a.signalListeners, process: a.processListeners }).toEqual({
        adapter: a.adapter,
        signal: 0,
        process: [],
      });
  });

  test('a hung token request is abandoned with its timers when its last caller gives up', () => {
    for (const a of run.report?.adapters ?? [])
      expect({ adapter: a.adapter, timers: a.timersAfterGivingUp }).toEqual({
        adapter: a.adapter,
        timers: [],
      });
  });

  test('no timer, socket or server left after detach and close', () => {
    for (const a of run.report?.adapters ?? [])
      expect({ adapter: a.adapter, leftOver: a.leftOver }).toEqual({ adapter: a.adapter, leftOver: [] });
    expect(run.report?.rotation.leftOver).toEqual([]);
  });

  test('a strategy rotating 10,000 tokens (5,000 by expiry, 5,000 revoked by a 401) does not grow the heap', () => {
    const rotation = run.report!.rotation;
    expect({ tokens: rotation.tokens, replays: rotation.replays }).toEqual({
      tokens: 10_000,
      replays: 5_000,
    });
    expect(rotation.heapGrowthBytes).toBeLessThan(HEAP_BUDGET_BYTES);
  });

  test('no unhandled rejection, and the process ended by itself', () => {
    expect(run.report?.unhandledRejections).toEqual([]);
    expect({ exited: run.exitedByItself, code: run.code, stderr: run.stderr }).toEqual({
      exited: true,
      code: 0,
      stderr: '',
    });
  });
});
