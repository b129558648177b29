#!/usr/bin/env node
// `npm run tarballs [-- <folder>]`: every published package packed into one folder
// (default: tarballs/ in this repository), ready for `npm install <folder>/*.tgz` in your
// project. pnpm packs them (npm would keep `workspace:^` in the manifests, which npm cannot
// install); run through scripts/bootstrap.mjs, which builds the packages first.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PNPM = join(ROOT, '.tools/node_modules/pnpm/bin/pnpm.cjs');

/** The packages a user installs: every package of `packages/` that is not private. */
export function publishedPackages() {
  return readdirSync(join(ROOT, 'packages'))
    .map((dir) => ({
      dir: join(ROOT, 'packages', dir),
      manifest: JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => !manifest.private);
}

/** Packs every published package (already built) into `folder`, emptied first; returns the tarballs' paths. */
export function packTarballs(folder) {
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  return publishedPackages().map(({ dir }) => {
    const out = execFileSync(process.execPath, [PNPM, 'pack', '--pack-destination', folder], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return out.trim().split('\n').at(-1);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const folder = resolve(process.argv[2] ?? join(ROOT, 'tarballs'));
  const tarballs = packTarballs(folder);
  console.log(`${tarballs.length} packages packed into ${folder}/:`);
  for (const tarball of tarballs) console.log(`  ${relative(folder, tarball)}`);
  console.log(`\nIn your project (npm installs each package's own dependencies from the registry):\n`);
  console.log(`  npm install ${folder}/*.tgz\n`);
  console.log('and the peers of the adapters you use (axios, ky, ioredis, …).');
}
