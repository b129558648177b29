// vitest 4 ignores `vitest.workspace.ts` by name; our config imports it. This test
// proves that the list is complete (every folder with tests is in it) and really used
// (vitest itself, asked to list the tests, reports exactly those projects).
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from 'vitest';
import { projects } from '../vitest.workspace.js';

const root = join(import.meta.dirname, '..');
const listed = projects.map((p) => p.test?.root as string);

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.test\.ts$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !f.includes('node_modules'));
}

test('every workspace folder with tests is a project in vitest.workspace.ts', () => {
  const folders = [
    ...['packages', 'examples'].flatMap((group) =>
      readdirSync(join(root, group)).map((name) => `${group}/${name}`),
    ),
    'bench',
  ];
  const withTests = folders.filter((folder) => testFiles(join(root, folder)).length > 0);
  expect(withTests.length).toBeGreaterThan(0);
  for (const folder of withTests) expect(listed).toContain(folder);
});

test('vitest runs exactly the projects that vitest.workspace.ts lists', () => {
  const out = execFileSync(
    process.execPath,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'list', '--filesOnly', '--json'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0' },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const files = JSON.parse(out.slice(out.indexOf('['))) as { file: string; projectName?: string }[];
  const seen = new Set(files.map((f) => f.projectName));
  const expected = projects
    .filter((p) => testFiles(join(root, p.test!.root!)).length > 0)
    .map((p) => p.test!.name);
  expect([...seen].sort()).toEqual([...expected].sort());
  for (const f of files) {
    const project = projects.find((p) => p.test!.name === f.projectName)!;
    expect(relative(root, f.file).startsWith(`${project.test!.root}/`)).toBe(true);
  }
}, 60_000);
