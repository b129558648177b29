#!/usr/bin/env node
// The README's two commands (`npm run demo`, `npm test`), `npm run bench`, `npm run tarballs` and `npm run docs` land here, so that a machine
// with only Node and this repository can run them: we install the pinned pnpm into
// .tools/ (no global install, no corepack), install the workspace, make sure the
// system tools the tests need are present, then hand over to the real script.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const task = process.argv[2];
const tasks = {
  demo: 'demo:run',
  test: 'test:run',
  bench: 'bench:run',
  tarballs: 'tarballs:run',
  docs: 'docs:run',
};
if (!(task in tasks)) {
  console.error(`usage: node scripts/bootstrap.mjs <${Object.keys(tasks).join('|')}> [args…]`);
  process.exit(2);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (!((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22)) {
  console.error(`authrail needs Node ^20.19 || >=22.12; this is ${process.version}.`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(command, args, options) {
  const status = run(command, args, options);
  if (status !== 0) process.exit(status);
}

// 1. pnpm, the version package.json pins, installed locally.
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.replace(
  /^pnpm@/,
  '',
);
const toolsDir = join(root, '.tools');
const pnpm = join(toolsDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const installedPnpm = existsSync(pnpm)
  ? JSON.parse(readFileSync(join(toolsDir, 'node_modules', 'pnpm', 'package.json'), 'utf8')).version
  : undefined;
if (installedPnpm !== pinned) {
  console.log(`› installing pnpm ${pinned} into .tools/`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  must(npm, [
    'install',
    '--prefix',
    toolsDir,
    '--no-save',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    `pnpm@${pinned}`,
  ]);
}

// 2. The workspace, when the lockfile changed since the last install. The demo needs only
// its own dependencies (its packages, ky, axios, tsx: ~65 MB); everything else needs the
// whole workspace (test tools, Bun, Deno, workerd, Chromium's driver: ~570 MB). Which one
// is installed is written down, so `npm test` after `npm run demo` installs the rest.
const modules = join(root, 'node_modules', '.modules.yaml');
const scopeFile = join(root, 'node_modules', '.authrail-install');
const lockfile = join(root, 'pnpm-lock.yaml');
const installed = !existsSync(modules)
  ? undefined
  : statSync(lockfile).mtimeMs > statSync(modules).mtimeMs
    ? undefined
    : existsSync(scopeFile)
      ? readFileSync(scopeFile, 'utf8').trim()
      : 'all'; // installed by hand with `pnpm install`
if (task === 'demo' ? installed === undefined : installed !== 'all') {
  const scope = task === 'demo' ? 'demo' : 'all';
  const args =
    scope === 'demo'
      ? ['install', '--frozen-lockfile', '--prod', '--filter', '@authrail-examples/demo...']
      : // After the demo's install pnpm would ask before replacing node_modules: no need to.
        ['install', '--frozen-lockfile', '--config.confirm-modules-purge=false'];
  console.log(
    `› installing ${scope === 'demo' ? "the demo's" : 'all'} dependencies (pnpm ${args.join(' ')})`,
  );
  must(process.execPath, [pnpm, ...args]);
  writeFileSync(scopeFile, `${scope}\n`);
}

// 3. The tests drive real servers from Debian's packages: Chromium (never a downloaded
// build) for the browser tests, redis-server and redis-cli for the fleet tests, valgrind
// for the instruction count's smoke test, openssl for the mTLS tests' certificates. The benchmarks need only redis-server (the fleet
// workload); `pnpm bench:instructions` needs valgrind too.
if (task === 'test' || task === 'bench') {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const onPath = (command) =>
    run('sh', ['-c', `command -v ${command} >/dev/null`], { stdio: 'ignore' }) === 0;
  const missing = [
    ...(task === 'bench' || existsSync(chromium) ? [] : ['chromium']),
    ...(onPath('redis-server') && onPath('redis-cli') ? [] : ['redis-server']),
    ...(task === 'bench' || onPath('valgrind') ? [] : ['valgrind']),
    // The mTLS tests make their certificates with openssl at test time.
    ...(task === 'bench' || onPath('openssl') ? [] : ['openssl']),
  ];
  if (missing.length > 0) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot && existsSync('/usr/bin/apt-get')) {
      console.log(
        `› installing what the ${task === 'bench' ? 'benchmarks run' : 'tests run'} (apt-get install ${missing.join(' ')}${missing.includes('chromium') ? '; Chromium brings the libraries it needs' : ''}, without recommended packages, upgrading nothing)`,
      );
      must('apt-get', ['update', '-qq']);
      // Only what is missing and what it needs: no recommended extras, nothing upgraded.
      must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '--no-upgrade', ...missing], {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } else {
      console.error(
        `The ${task === 'bench' ? 'benchmarks' : 'tests'} need ${missing.join(' and ')}. Install ${missing.length > 1 ? 'them' : 'it'} ` +
          `(Debian/Ubuntu: sudo apt-get install ${missing.join(' ')})` +
          (missing.includes('chromium') ? ', or set CHROMIUM_PATH to a Chromium or Chrome binary.' : '.'),
      );
      process.exit(1);
    }
  }
}

// 4. The real work, with pnpm on PATH for scripts that call it.
const env = { ...process.env, PATH: `${join(toolsDir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` };
process.exit(run(process.execPath, [pnpm, 'run', tasks[task], ...process.argv.slice(3)], { env }));
