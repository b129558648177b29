// One-off scaffolding used to lay out packages/* the same way; kept so a new package
// starts from the same manifest shape (exports map with the source condition, files, scripts).
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';

const [name, description, depsJson = '{}', peerJson = '{}', devJson = '{}', priv = ''] =
  process.argv.slice(2);
const dir = `packages/${name}`;
mkdirSync(`${dir}/src`, { recursive: true });
const isPrivate = priv === 'private';
const manifest = {
  name: `@authrail/${name}`,
  version: '0.0.0',
  description,
  ...(isPrivate ? { private: true } : {}),
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  engines: { node: '^20.19.0 || >=22.12.0' },
  exports: {
    '.': {
      '@authrail/source': './src/index.ts',
      types: './dist/index.d.ts',
      default: './dist/index.js',
    },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/*.test-d.ts'],
  scripts: {
    build: 'tsc -p tsconfig.build.json',
    ...(isPrivate ? {} : { 'test:build': 'publint --strict && attw --pack . --profile esm-only' }),
  },
  dependencies: JSON.parse(depsJson),
  peerDependencies: JSON.parse(peerJson),
  devDependencies: JSON.parse(devJson),
  ...(isPrivate ? {} : { publishConfig: { access: 'public' } }),
};
for (const k of ['dependencies', 'peerDependencies', 'devDependencies'])
  if (Object.keys(manifest[k]).length === 0) delete manifest[k];
writeFileSync(`${dir}/package.json`, JSON.stringify(manifest, null, 2) + '\n');
writeFileSync(
  `${dir}/tsconfig.build.json`,
  JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: { outDir: 'dist', rootDir: 'src', customConditions: [] },
      include: ['src'],
      exclude: ['src/**/*.test.ts', 'src/**/*.test-d.ts'],
    },
    null,
    2,
  ) + '\n',
);
if (!existsSync(`${dir}/src/index.ts`)) writeFileSync(`${dir}/src/index.ts`, 'export {};\n');
