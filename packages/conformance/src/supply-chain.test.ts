// Supply chain: what each published package brings into a user's install. Computed from
// node_modules (pnpm's layout: a package's dependencies are its node_modules siblings),
// checked against the table in docs/security.md (AUTHRAIL_UPDATE_DOCS=1 rewrites it),
// and held to a budget: only @authrail/oauth2 and the presets built on it pull in code
// that is not ours, and only panva's three packages.
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCS = `${ROOT}docs/security.md`;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where `name` resolves from `dir`, as Node would: the nearest node_modules up the tree. */
function resolveFrom(dir: string, name: string): string {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(at) === at) throw new Error(`${name} not found from ${dir}`);
  }
}

/** Every third-party package a published package installs (peers excluded: the user brings them). */
function thirdParty(dir: string, seen = new Map<string, Manifest>()): Map<string, Manifest> {
  for (const name of Object.keys(manifest(dir).dependencies ?? {})) {
    const at = resolveFrom(dir, name);
    const dep = manifest(at);
    const key = `${dep.name}@${dep.version}`;
    if (seen.has(key)) continue;
    if (!dep.name.startsWith('@authrail/')) seen.set(key, dep);
    thirdParty(at, seen);
  }
  return seen;
}

const published = readdirSync(`${ROOT}packages`)
  .map((name) => `${ROOT}packages/${name}`)
  .filter((dir) => existsSync(join(dir, 'package.json')) && !manifest(dir).private)
  .map((dir) => ({
    name: manifest(dir).name,
    peers: Object.keys(manifest(dir).peerDependencies ?? {}),
    deps: thirdParty(dir),
  }))
  .sort((a, b) => a.name.localeCompare(b.name));

function table(): string {
  const lines = ['| Package | Third-party runtime dependencies | Peer (yours) |', '| --- | --- | --- |'];
  for (const p of published) {
    const deps = [...p.deps.values()].map((d) => `${d.name} ${d.version} (${d.license ?? 'no license'})`);
    lines.push(
      `| \`${p.name}\` | ${deps.length === 0 ? '0' : `${deps.length}: ${deps.join(', ')}`} | ${p.peers.join(', ') || '—'} |`,
    );
  }
  return lines.join('\n');
}

describe('supply chain (issue 9)', () => {
  test('only @authrail/oauth2 and the presets on it install third-party code (openid-client, jose, oauth4webapi), and nothing else (undici is an optional peer of @authrail/node)', () => {
    const OAUTH2 = ['jose', 'oauth4webapi', 'openid-client'];
    const expected: Record<string, string[]> = {
      '@authrail/oauth2': OAUTH2,
      '@authrail/msk-apim': OAUTH2,
      '@authrail/okta': OAUTH2,
      '@authrail/medblocks': OAUTH2,
      '@authrail/smart': OAUTH2,
    };
    expect(published.length).toBeGreaterThanOrEqual(10);
    for (const p of published)
      expect({ name: p.name, deps: [...p.deps.values()].map((d) => d.name).sort() }).toEqual({
        name: p.name,
        deps: expected[p.name] ?? [],
      });
  });

  test('every third-party dependency is MIT or similarly permissive', () => {
    for (const p of published)
      for (const d of p.deps.values())
        expect(`${d.name}: ${d.license}`).toMatch(/: (MIT|ISC|Apache-2\.0|BSD-[23]-Clause)$/);
  });

  test('docs/security.md lists what each package installs', async () => {
    const docs = await readFile(DOCS, 'utf8');
    const start = '<!-- dependencies:start -->\n';
    const end = '\n<!-- dependencies:end -->';
    const measured = `${start}${table()}${end}`;
    const current = docs.includes(start)
      ? docs.slice(docs.indexOf(start), docs.indexOf(end) + end.length)
      : '';
    if (process.env.AUTHRAIL_UPDATE_DOCS === '1' && current !== measured && current) {
      await writeFile(DOCS, docs.replace(current, measured));
      return;
    }
    expect(current, 'run with AUTHRAIL_UPDATE_DOCS=1 to update docs/security.md').toBe(measured);
  });
});
