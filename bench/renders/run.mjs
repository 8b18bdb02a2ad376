// Renders bench (issue 5, section 2): the dashboard's corridor table with 100
// corridors receiving 2 000 updates/s for 10 s, React commits per second of
// the table and of each row, ours (www's hook + frame-batched store) against
// a baseline hook that calls setState on every message, in the same run.
//
//   node renders/run.mjs            full run (10 s per variant), rewrites bench/RESULTS.md
//   node renders/run.mjs --smoke    1 s per variant; fails only if updates go missing
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from '../dispatch/frames.mjs';
import { startServer } from '../dispatch/server.mjs';
import { launch, median } from '../lib/browser.mjs';
import { table, writeSection } from '../lib/results.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = fileURLToPath(new URL('../out/renders/', import.meta.url));
const smoke = process.argv.includes('--smoke');
const RATE = 2000;
const SECONDS = smoke ? 1 : 10;
const ROUNDS = smoke ? 1 : 3;
const COUNT = RATE * SECONDS;
const TARGET = 60;

mkdirSync(out, { recursive: true });
copyFileSync(`${here}index.html`, `${out}index.html`);
const built = await build({
  entryPoints: [`${here}page.jsx`], bundle: true, minify: true, format: 'esm', platform: 'browser', jsx: 'automatic',
  outfile: `${out}bundle.js`, logLevel: 'error',
  // One React for the page and www's modules (www/node_modules may hold another copy).
  alias: {
    '@': `${root}www/src`, 'stellar-insights-ws': `${root}pkg`,
    react: `${here}../node_modules/react`, 'react-dom': `${here}../node_modules/react-dom`,
  },
  define: {
    'process.env.NODE_ENV': '"production"',
    ...Object.fromEntries(['WS_URL', 'WS_PORT', 'WS_TOKEN', 'API_URL'].map((k) => [`process.env.NEXT_PUBLIC_${k}`, 'undefined'])),
  },
  external: ['*.wasm'],
});

const stream = generate(COUNT, 5, { corridorsOnly: 100 });
const server = await startServer({ files: { '/bench/': out, '/wasm/': `${root}pkg/` }, stream });
const browser = await launch();
const results = { ours: [], baseline: [] };
const failures = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 ? ['baseline', 'ours'] : ['ours', 'baseline']) {
      const page = await browser.newPage();
      page.on('pageerror', (e) => failures.push(`${variant}: ${e}`));
      page.on('console', (msg) => process.env.DEBUG && console.error('page:', msg.text()));
      await page.goto(`http://127.0.0.1:${server.port}/bench/index.html`);
      await page.waitForFunction(() => window.bench);
      await page.evaluate(([v, url]) => window.bench.prepare(v, url), [variant, `ws://127.0.0.1:${server.port}/ws`]);
      const r = await page.evaluate(([rate, count]) => window.bench.run(rate, count), [RATE, COUNT]);
      await page.close();
      r.tablePerSec = r.table / r.seconds;
      r.rowMaxPerSec = r.rowMax / r.seconds;
      r.rowMeanPerSec = r.rowMean / r.seconds;
      results[variant].push(r);
      console.log(`round ${round + 1}/${ROUNDS} ${variant.padEnd(8)} ${r.messages} msgs in ${r.seconds.toFixed(2)} s: ` +
        `table ${r.tablePerSec.toFixed(1)}/s, row max ${r.rowMaxPerSec.toFixed(1)}/s, row mean ${r.rowMeanPerSec.toFixed(1)}/s, ${r.rowsInDom} rows`);
      if (r.messages !== COUNT || r.rowsInDom !== 100) failures.push(`${variant}: ${r.messages}/${COUNT} updates, ${r.rowsInDom}/100 rows`);
    }
  }
} catch (e) {
  failures.push(String(e));
} finally {
  await browser.close();
  await server.close();
}
if (failures.length) {
  console.error(`renders check failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
if (smoke) {
  console.log('smoke ok: both variants received every update and show 100 rows');
  process.exit(0);
}
const m = (v, k) => median(results[v].map((r) => r[k]));
const rows = ['ours', 'baseline'].map((v) => [
  v === 'ours' ? '**ours** (www useWebSocket + frame-batched store)' : 'baseline (setState per message)',
  m(v, 'tablePerSec').toFixed(1), m(v, 'rowMaxPerSec').toFixed(1), m(v, 'rowMeanPerSec').toFixed(1),
]);
const met = m('ours', 'tablePerSec') <= TARGET && m('ours', 'rowMaxPerSec') <= TARGET;
const body = `100 corridors, ${RATE} corridor updates/s for ${SECONDS} s (paced by the bench server), ${ROUNDS} rounds, medians. ` +
  'Renders counted at each React commit (DevTools commit hook, fiber props identity); per second of the update stream. ' +
  'Both variants render www\'s CorridorsTable / memoised CorridorRowView with www\'s reducer; each live change remounts its row (flash).\n\n' +
  `${table(['variant', 'table renders/s', 'busiest row renders/s', 'mean row renders/s'], rows)}\n\n` +
  `Target: <= ${TARGET} per second per component for ours: **${met ? 'met' : 'missed'}**; ` +
  `table renders ${(m('baseline', 'tablePerSec') / Math.max(m('ours', 'tablePerSec'), 1e-9)).toFixed(0)}x fewer than the baseline.`;
console.log(body);
writeSection('renders', 'Renders (issue 5, section 2)', 'scripts/build-wasm.sh && cd bench && npm run renders', body);
