// Writes pkg/package.json for the npm package `stellar-insights-ws`: the
// name, version and licence wasm-pack took from Cargo.toml, plus the entry
// points (core, ./react, ./compat), ESM only, no side effects on import,
// React as an optional peer (the core and compat entries do not use it).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('../pkg/', import.meta.url));
const generated = JSON.parse(readFileSync(`${pkgDir}package.json`, 'utf8'));
const entry = (name) => ({ types: `./${name}.d.ts`, default: `./${name}.js` });

const manifest = {
  name: generated.name,
  version: generated.version,
  description: generated.description,
  license: generated.license,
  repository: generated.repository,
  type: 'module',
  files: ['*.js', '*.d.ts', 'stellar_insights_ws_bg.wasm'],
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': entry('index'),
    './react': entry('react'),
    './compat': entry('compat'),
    './stellar_insights_ws_bg.wasm': './stellar_insights_ws_bg.wasm',
    './package.json': './package.json',
  },
  sideEffects: false,
  peerDependencies: { react: '>=19.2.0' },
  peerDependenciesMeta: { react: { optional: true } },
};
writeFileSync(`${pkgDir}package.json`, `${JSON.stringify(manifest, null, 2)}\n`);
