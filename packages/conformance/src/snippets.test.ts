// Every TypeScript block of the docs and the READMEs, type-checked as a user would paste
// it (strict, NodeNext, the packages as published); and every block that calls an API run
// against the sandbox with each host it names on a loopback origin of its own (see
// snippet-hosts.ts), so a block that would send no token to a real API fails here. Names for the reader's own values
// (`baseUrl`, `clientSecret`, `secrets`…) are declared once below; anything else a block
// uses must be imported by the block itself. The packages the blocks import are this
// package's devDependencies (knip cannot see imports in markdown; knip.json names them).
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '@authrail/sandbox';
import { spawnTs } from '@authrail/test-utils';
import { hostsOf, isKnownHost, SNIPPET_CLIENTS, SnippetHosts } from './snippet-hosts.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The `undici` that @authrail/undici resolves as its peer (its package folder; ES module resolution takes a file, not a folder, in `paths`). */
const UNDICI_OF_THE_INTERCEPTOR = dirname(
  createRequire(join(ROOT, 'packages/undici/package.json')).resolve('undici/package.json'),
);
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
  code: string;
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
      blocks.push({ name: `${path} #${index}`, file, code: match[1]! });
    }
  }
  await writeFile(join(DIR, 'placeholders.d.ts'), PLACEHOLDERS);
  await writeFile(
    join(DIR, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(DIR, join(ROOT, 'tsconfig.base.json')),
      compilerOptions: {
        noEmit: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        // A user's `undici` is the one copy @authrail/undici's peer resolves to; here this
        // package has its own (6.29.1) beside the one @authrail/undici is typed against.
        paths: { undici: [relative(DIR, join(UNDICI_OF_THE_INTERCEPTOR, 'index.d.ts'))] },
      },
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
    const { code, out } = await run(block!, block!.code);
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

/** Runs a block's code as an ES module (.mts: the block awaits at its top level), with the reader's values. */
async function run(
  block: Block,
  code: string,
  reader: { globals: Record<string, string>; env: Record<string, string> } = { globals: {}, env: {} },
): Promise<{ code: number | null; out: string; err: string }> {
  const runnable = join(DIR, block.file.replace(/\.ts$/, '.run.mts'));
  const globals = Object.entries(reader.globals).map(
    ([name, value]) => `globalThis.${name} = ${JSON.stringify(value)};`,
  );
  // The globals first: an import is hoisted, but the placeholders are read only when the block runs.
  await writeFile(runnable, `${globals.join('\n')}\n${code}`);
  const child = spawnTs(relative(ROOT, runnable), { env: reader.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code: exit, out, err };
}

/**
 * A block calls an API: it makes a client with an adapter (`createAuthFetch`,
 * `createAuthKy`, an axios instance given to `attachAuth`) and awaits a call of it.
 */
function callsAnApi(code: string): boolean {
  const clients = [...code.matchAll(/const (\w+) = (?:createAuthFetch|createAuthKy|axios\.create)\(/g)].map(
    (match) => match[1]!,
  );
  return clients.some((name) => new RegExp(`await \\(?(?:await )?${name}(?:\\s*\\.\\w+)?\\(`).test(code));
}

/** Blocks that call an API but cannot run in Node, and where they are run instead. */
const NOT_RUN: Record<string, string> = {
  'docs/smart.md #5':
    'a browser page (location, redirects): SMART App Launch runs in Chromium in smart-tabs.test.ts',
  'docs/device-sign-in.md #1':
    'waits for a person to approve the sign-in: run unattended in device-authorization.test.ts and examples/device-cli',
  'docs/device-sign-in.md #3':
    'waits for a person to approve the sign-in (then Ctrl-C): examples/device-cli runs both, unattended',
};

describe('every block that calls an API runs, each host it names on an origin of its own', () => {
  let sandbox: Sandbox;
  let hosts: SnippetHosts;
  beforeAll(async () => {
    sandbox = await startSandbox({ clients: SNIPPET_CLIENTS });
    hosts = new SnippetHosts(sandbox);
    await hosts.start();
  });
  afterAll(async () => {
    await hosts?.close();
    await sandbox?.close();
  });

  test('the blocks that call an API are found, and every host they name is known here', () => {
    const calling = blocks.filter((b) => callsAnApi(b.code) && !(b.name in NOT_RUN));
    expect(calling.length).toBeGreaterThanOrEqual(13);
    const unknown = calling.flatMap((b) =>
      hostsOf(b.code)
        .filter((h) => !isKnownHost(h))
        .map((h) => `${b.name}: ${h}`),
    );
    expect(unknown).toEqual([]);
    expect(Object.keys(NOT_RUN).filter((name) => !blocks.some((b) => b.name === name))).toEqual([]);
  });

  test('each runs to the end, and every API request it makes carries an accepted credential', async () => {
    const failing: string[] = [];
    for (const block of blocks.filter((b) => callsAnApi(b.code) && !(b.name in NOT_RUN))) {
      const from = sandbox.requests.length;
      const named = hostsOf(block.code).length > 0;
      const { code, err } = await run(block, hosts.rewrite(block.code), hosts.readerValues(block.code));
      const calls = sandbox.resourceRequests().filter((r) => sandbox.requests.indexOf(r) >= from);
      const refused = calls.filter((r) => r.status === 401 || r.status === 403);
      if (code !== 0) failing.push(`${block.name}: exit ${code}\n${err.slice(0, 1_500)}`);
      else if (named && calls.length === 0) failing.push(`${block.name}: no API request reached the sandbox`);
      else if (refused.length > 0)
        failing.push(
          `${block.name}: ${refused.map((r) => `${r.status} ${r.path}`).join(', ')} (no credential sent?)`,
        );
    }
    expect(failing).toEqual([]);
  }, 180_000);
});
