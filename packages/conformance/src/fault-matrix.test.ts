// The fault matrix: every token endpoint fault × every provider × every adapter, each
// cell a real request through a real client against the sandbox. One child process per
// adapter (run in parallel), so each can be watched for unhandled rejections and for
// ending by itself once its last request is done. The measured table is the one in
// docs/security.md (AUTHRAIL_UPDATE_DOCS=1 rewrites it).
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { runChild, type ChildRun } from '@authrail/test-utils';
import {
  MATRIX_ADAPTERS,
  MATRIX_FAULTS,
  MATRIX_PROVIDERS,
  type CellResult,
  type ChildReport,
  type MatrixAdapter,
} from './fault-matrix/faults.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fault-matrix/child.ts', import.meta.url));
const DOCS = `${ROOT}docs/security.md`;

type AdapterRun = ChildRun<ChildReport> & { adapter: MatrixAdapter };
const runChildFor = async (adapter: MatrixAdapter): Promise<AdapterRun> => ({
  adapter,
  ...(await runChild<ChildReport>(CHILD, [adapter])),
});

let runs: AdapterRun[] = [];
beforeAll(async () => {
  runs = await Promise.all(MATRIX_ADAPTERS.map(runChildFor));
}, 240_000);

const cellsOf = (fault: string, provider: string): CellResult[] =>
  runs.flatMap((r) => r.report?.cells ?? []).filter((c) => c.fault === fault && c.provider === provider);

/** What a cell shows in the docs table: the outcome and the token requests it took. */
const shown = (c: Pick<CellResult, 'outcome' | 'tokenRequests'>) =>
  `${c.outcome === 'token' ? 'response' : `\`${c.outcome.replace(/^AUTHRAIL_/, '')}\``} · ${c.tokenRequests}`;

function table(): string {
  const names = {
    'msk-apim': 'MSK APIM',
    okta: 'Okta',
    medblocks: 'Medblocks',
    'medblocks-refresh': 'Medblocks refresh',
  };
  const lines = [
    `| Fault | ${MATRIX_PROVIDERS.map((p) => names[p]).join(' | ')} |`,
    `| --- | ${MATRIX_PROVIDERS.map(() => '---').join(' | ')} |`,
  ];
  for (const fault of MATRIX_FAULTS) {
    const cells = MATRIX_PROVIDERS.map((provider) => {
      const [first] = cellsOf(fault.name, provider);
      return first ? shown(first) : 'not run';
    });
    lines.push(`| ${fault.name} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

describe('fault matrix: token endpoint faults × providers × adapters (issue 9)', () => {
  test.each(
    MATRIX_FAULTS.flatMap((fault) =>
      MATRIX_PROVIDERS.map((provider) => [fault.name, provider, fault] as const),
    ),
  )(
    '%s, %s: every adapter ends in the same typed outcome, with bounded token requests',
    (name, provider, fault) => {
      const expected =
        provider === 'medblocks-refresh' && fault.refresh
          ? fault.refresh
          : ((provider === 'okta' ? fault.vendor?.okta : undefined) ?? fault.expect);
      const cells = cellsOf(name, provider);
      expect(cells.map((c) => c.adapter).sort()).toEqual([...MATRIX_ADAPTERS].sort());
      for (const c of cells) {
        expect({ adapter: c.adapter, outcome: c.outcome, tokenRequests: c.tokenRequests }).toEqual({
          adapter: c.adapter,
          outcome: expected.outcome,
          tokenRequests: expected.requests,
        });
      }
    },
  );

  test('no cell left an unhandled rejection, and every process ended by itself', () => {
    for (const run of runs) {
      expect({ adapter: run.adapter, unhandled: run.report?.unhandledRejections }).toEqual({
        adapter: run.adapter,
        unhandled: [],
      });
      expect({ adapter: run.adapter, exited: run.exitedByItself, stderr: run.stderr }).toEqual({
        adapter: run.adapter,
        exited: true,
        stderr: '',
      });
    }
  });

  test('secret hygiene: no secret, in any encoding, in any event, log line or error of any cell', () => {
    for (const run of runs) {
      expect({ adapter: run.adapter, leaks: run.report?.leaks }).toEqual({ adapter: run.adapter, leaks: [] });
      // Not vacuous: every cell rendered its events, log lines and errors.
      expect(run.report?.captures ?? 0).toBeGreaterThan(MATRIX_FAULTS.length * MATRIX_PROVIDERS.length);
    }
  });

  test('docs/security.md shows the table measured here', async () => {
    const docs = await readFile(DOCS, 'utf8');
    const start = '<!-- fault-matrix:start -->\n';
    const end = '\n<!-- fault-matrix:end -->';
    const measured = `${start}${table()}${end}`;
    const current = docs.slice(docs.indexOf(start), docs.indexOf(end) + end.length);
    if (process.env.AUTHRAIL_UPDATE_DOCS === '1' && current !== measured) {
      await writeFile(DOCS, docs.replace(current, measured));
      return;
    }
    expect(current, 'run with AUTHRAIL_UPDATE_DOCS=1 to update docs/security.md').toBe(measured);
  });
});
