// Where a client's per-frame time goes: replays the dispatch flood into the
// client's own `onmessage` handler (no WebSocket delivery, as `run.mjs
// --handler`) under Chrome's sampling profiler (CDP `Profiler`), and prints
// the cost per frame and the functions with the most self time.
//
//   node dispatch/profile.mjs [ours|floor] [one|all] [--count N]
//
// For function names in the wasm module, build pkg/ with its name section:
// see bench/README.md ("Profiling the client").
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { generate } from './frames.mjs';
import { startServer } from './server.mjs';
import { launch } from '../lib/browser.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = fileURLToPath(new URL('../out/dispatch/', import.meta.url));
const [client = 'ours', workload = 'one'] = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const at = process.argv.indexOf('--count');
const COUNT = at > 0 ? Number(process.argv[at + 1]) : 30_000;

await build({
  entryPoints: [`${here}page.jsx`], bundle: true, minify: true, format: 'esm', platform: 'browser',
  outfile: `${out}bundle.js`, define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'warning',
  external: ['*.wasm'],
  alias: { 'before-pkg': `${root}pkg/stellar_insights_ws.js` },
});
const stream = generate(COUNT);
const server = await startServer({ files: { '/bench/': out, '/pkg/': `${root}pkg/` }, stream });
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/bench/index.html`);
  await page.waitForFunction(() => window.bench);
  const meta = { url: `ws://127.0.0.1:${server.port}/ws`, hot: stream.hotKey, count: COUNT };
  await page.evaluate(([c, w, m]) => window.bench.prepare(c, w, m), [client, workload, meta]);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  const r = await page.evaluate((f) => window.bench.replay(f), stream.frames);
  const { profile } = await cdp.send('Profiler.stop');
  const fastest = Math.min(...r.chunkMs) / 2; // 2 000-frame chunks
  console.log(`${client} / ${workload}: ${(r.elapsedMs * 1000 / COUNT).toFixed(2)} µs per frame under the profiler ` +
    `(fastest 2 000-frame chunk ${fastest.toFixed(2)} µs per frame); delivered ${r.counts}`);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = `${functionName || '(anonymous)'} ${url ? `${url.split('/').pop()}:${lineNumber}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + profile.timeDeltas[i]);
    total += profile.timeDeltas[i];
  });
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
} finally {
  await browser.close();
  await server.close();
}
