// Every TypeScript block of the docs and the READMEs, type-checked as a user would paste
// it (strict, NodeNext, the packages as published). Names for the reader's own values
// (`baseUrl`, `clientSecret`, `secrets`…) are declared once below; anything else a block
// uses must be imported by the block itself. The packages the blocks import are this
// package's devDependencies (knip cannot see imports in markdown; knip.json names them).
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';
import { spawnTs } from '@authrail/test-utils';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Inside this package's node_modules: the blocks resolve packages from here, and no tool lints them. */
const DIR = fileURLToPath(new URL('../node_modules/.snippets/', import.meta.url));

/** The reader's own values, as the docs name them. */
const PLACEHOLDERS = `
import type { TokenSource } from '@authrail/core';
declare global {
  const baseUrl: string;
  const clientId: string;
  const clientSecret: string;
  const issuer: string;
  const fhirBaseUrl: string;
  const source: TokenSource;
  const key: CryptoKey;
  const secrets: { get(name: string): Promise<string>; read(name: string): Promise<string> };
  const secretManager: { read(name: string): Promise<string> };
  const vault: { read(name: string): Promise<{ secret: string }> };
  const kms: { sign(input: string): Promise<Uint8Array> };
  const metrics: { increment(name: string, ...labels: unknown[]): void };
  const signInButton: HTMLElement;
  const signOutButton: HTMLElement;
}
export {};
`;

interface Block {
  /** `docs/smart.md #3`. */
  name: string;
  file: string;
}

async function markdownFiles(): Promise<string[]> {
  const files = ['README.md'];
  for (const dir of ['docs', 'packages', 'examples']) {
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
      if (dir === 'docs' && entry.isFile() && entry.name.endsWith('.md')) files.push(`docs/${entry.name}`);
      if (dir !== 'docs' && entry.isDirectory()) files.push(`${dir}/${entry.name}/README.md`);
    }
  }
  return files;
}

const blocks: Block[] = [];
let errors = new Map<string, string[]>();

beforeAll(async () => {
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  for (const path of await markdownFiles()) {
    const text = await readFile(join(ROOT, path), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let index = 0;
    for (const match of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
      index += 1;
      const file = `${path.replace(/[/.]/g, '_')}_${index}.ts`;
      // A module of its own, so blocks never see each other's names.
      await writeFile(join(DIR, file), `export {};\n${match[1]}`);
      blocks.push({ name: `${path} #${index}`, file });
    }
  }
  await writeFile(join(DIR, 'placeholders.d.ts'), PLACEHOLDERS);
  await writeFile(
    join(DIR, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(DIR, join(ROOT, 'tsconfig.base.json')),
      compilerOptions: { noEmit: true, experimentalDecorators: true, emitDecoratorMetadata: true },
      include: ['*.ts'],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const output = await promisify(execFile)(process.execPath, [tsc, '-p', join(DIR, 'tsconfig.json')]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  errors = new Map();
  for (const line of output.split('\n')) {
    const file = /^(?:.*[\\/])?([^\\/()]+\.ts)\(\d+,\d+\): error/.exec(line)?.[1];
    if (file) errors.set(file, [...(errors.get(file) ?? []), line]);
  }
}, 120_000);

describe('every TypeScript block in the docs and READMEs compiles', () => {
  test('the blocks were found (at least the guides and every package README)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(30);
  });

  test('the getting-started call runs against the sandbox as it is written', async () => {
    const block = blocks.find((b) => b.name === 'docs/getting-started.md #1');
    expect(block).toBeDefined();
    // .mts: an ES module whatever the folder says (the block awaits at its top level).
    const runnable = join(DIR, block!.file.replace(/\.ts$/, '.mts'));
    await writeFile(runnable, await readFile(join(DIR, block!.file)));
    const child = spawnTs(relative(ROOT, runnable), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: '200 4 patients' });
  }, 60_000);

  test('each block type-checks', () => {
    const failing = blocks
      .filter((b) => errors.has(b.file))
      .map((b) => `${b.name}:\n  ${errors.get(b.file)!.join('\n  ')}`);
    expect(failing).toEqual([]);
    // The check reads tsc's output: a run that reported errors for no block is a broken check.
    const unattributed = [...errors.keys()].filter((file) => !blocks.some((b) => b.file === file));
    expect(unattributed).toEqual([]);
  });
});
