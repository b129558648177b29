#!/usr/bin/env node
// Every relative link of the docs: in the markdown (guides, READMEs) and in the built site
// (`npm run docs` → docs/api). A link to a file that is not there fails the run.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SITE = join(ROOT, 'docs/api');
const broken = [];

function walk(dir, keep) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, keep));
    else if (keep(entry.name)) out.push(path);
  }
  return out;
}

/** Whether a link leaves the site or only moves within a page. */
const external = (target) => /^(?:[a-z][a-z0-9+.-]*:|#|\/\/)/i.test(target);

function check(file, target) {
  const path = decodeURIComponent(target.split('#')[0].split('?')[0]);
  if (!path) return;
  const resolved = resolve(dirname(file), path);
  if (
    !existsSync(resolved) ||
    (statSync(resolved).isDirectory() && !existsSync(join(resolved, 'index.html')) && !file.endsWith('.md'))
  )
    broken.push(`${relative(ROOT, file)} → ${target}`);
}

const markdown = [
  join(ROOT, 'README.md'),
  ...walk(join(ROOT, 'docs'), (name) => name.endsWith('.md')).filter((f) => !f.startsWith(SITE)),
  ...['packages', 'examples', 'bench'].flatMap((dir) =>
    walk(join(ROOT, dir), (name) => name === 'README.md'),
  ),
];
for (const file of markdown) {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g))
    if (!external(target)) check(file, target);
}

if (!existsSync(SITE)) {
  broken.push('docs/api is not built: run npm run docs first');
} else {
  for (const file of walk(SITE, (name) => name.endsWith('.html'))) {
    const text = readFileSync(file, 'utf8');
    for (const [, target] of text.matchAll(/\s(?:href|src)="([^"]+)"/g))
      if (!external(target)) check(file, target);
  }
}

if (broken.length) {
  process.stderr.write(`broken links:\n  ${broken.join('\n  ')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`links: ${markdown.length} markdown files and the site checked, none broken\n`);
}
