// Size of the real-time layer a page downloads, gzipped with level 9, next to
// the alternatives bundled the way an app would bundle them (esbuild, minified,
// React external). Run: `cd bench && npm run size` after scripts/build-wasm.sh.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeSection, table } from '../lib/results.mjs';
import { breakdown } from './breakdown.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
// The `gzip -9` command, as the issue states the target; Node's zlib at
// level 9 comes out about 1 % larger. zlib only where gzip is missing.
const gz = (buf) => {
  try {
    return execFileSync('gzip', ['-9', '-c'], { input: buf, maxBuffer: 1 << 26 }).length;
  } catch {
    return gzipSync(buf, { level: 9 }).length;
  }
};
const kb = (n) => (n / 1000).toFixed(1);

// What each alternative's user imports to get a reconnecting socket.
const alternatives = {
  'react-use-websocket': "export { default } from 'react-use-websocket';",
  partysocket: "export { WebSocket } from 'partysocket';",
  centrifuge: "export { Centrifuge } from 'centrifuge';",
};

async function bundle(contents) {
  const out = await build({
    stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', write: false,
    external: ['react', 'react-dom'], logLevel: 'silent',
  });
  return out.outputFiles[0].contents;
}

const wasmPath = `${root}pkg/stellar_insights_ws_bg.wasm`;
const jsPath = `${root}pkg/stellar_insights_ws.js`;
if (!existsSync(wasmPath) || !existsSync(jsPath)) {
  console.error('pkg/ is missing: run scripts/build-wasm.sh first');
  process.exit(1);
}
const wasm = readFileSync(wasmPath);
const glue = readFileSync(jsPath);
const ours = gz(wasm) + gz(glue);
const rows = [[
  '**stellar-insights-ws** (pkg: wasm + minified JS glue)',
  `${kb(wasm.length + glue.length)}`,
  `**${kb(ours)}** (wasm ${kb(gz(wasm))} + JS ${kb(gz(glue))})`,
]];
for (const [name, entry] of Object.entries(alternatives)) {
  const code = await bundle(entry);
  rows.push([name, kb(code.length), kb(gz(code))]);
}
// Each entry point of the npm package as an app's bundler ships it: esbuild,
// minified, React external, code splitting on (the glue is a dynamic import
// of the ./react and ./compat entries, so it lands in a chunk of its own).
async function entrySize(file) {
  const out = await build({
    entryPoints: [`${root}pkg/${file}`], bundle: true, minify: true, format: 'esm', platform: 'browser',
    splitting: true, outdir: '/nonexistent', write: false, external: ['react', 'react-dom'], logLevel: 'silent',
  });
  const js = out.outputFiles.filter((f) => f.path.endsWith('.js'));
  return { total: js.reduce((n, f) => n + gz(f.contents), 0), chunks: js.length };
}
const entryRows = [];
for (const [name, file] of [['stellar-insights-ws', 'index.js'], ['stellar-insights-ws/react', 'react.js'], ['stellar-insights-ws/compat', 'compat.js']]) {
  if (!existsSync(`${root}pkg/${file}`)) continue;
  const { total, chunks } = await entrySize(file);
  entryRows.push([`\`${name}\``, `${kb(total)} (${chunks} chunk${chunks > 1 ? 's' : ''})`, kb(total + gz(wasm))]);
}

const target = 40_000;
let body = `${table(['library', 'raw KB', 'gzip -9 KB'], rows)}\n\n` +
  `Target for ours: <= ${kb(target)} KB gzipped: **${ours <= target ? 'met' : 'missed'}** (${kb(ours)} KB).`;
if (entryRows.length > 0) {
  body += '\n\nPer entry point of the npm package (JS bundled with esbuild as above, all chunks; plus the .wasm):\n\n' +
    table(['entry', 'JS gzip -9 KB', 'JS + wasm gzip -9 KB'], entryRows);
}
const parts = breakdown(root);
if (parts) {
  body += '\n\nWhere the wasm code goes (function bodies by crate, before wasm-opt; `bench/size/breakdown.mjs`):\n\n' +
    table(['crate / module', 'code KB', 'share %'], parts);
}
console.log(body);
writeSection('size', 'Size (issue 5, section 3)', 'scripts/build-wasm.sh && cd bench && npm run size', body);
