// Time to a complete table (issue 14, point 5): from page open (navigation
// start) to the first render of a table holding every corridor and anchor,
// the dashboard's old path (REST load + live updates buffered and replayed,
// REST again on `connected`) against state on subscribe (the client's state
// mode), side by side in one run, in Chromium, against the real server while
// REST writes stream in at 50/s. Two sizes: the demo dashboard (12 corridors,
// 8 anchors) and a large one (1 012 corridors, 208 anchors: 5 state chunks).
//
//   node state/run.mjs            15 rounds per variant and size, rewrites bench/RESULTS.md
//   node state/run.mjs --smoke    2 rounds, small size only; fails only if a table never completes
//
// SERVER_BIN (default target/release/stellar-insights-server, else
// target/debug/...) is the server measured; the section names it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNet } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, median } from '../lib/browser.mjs';
import { table, writeSection } from '../lib/results.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke');
const ROUNDS = smoke ? 2 : 15;
const SIZES = smoke ? [[12, 8]] : [[12, 8], [1000, 200]];
const WRITES_PER_SEC = 50;
const release = join(root, 'target/release/stellar-insights-server');
const SERVER_BIN = process.env.SERVER_BIN ?? (existsSync(release) ? release : join(root, 'target/debug/stellar-insights-server'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createNet();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-state-'));
  const child = spawn(SERVER_BIN, [], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port), DATABASE_URL: `sqlite://${dir}/bench.db`, RUST_LOG: 'warn' },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('server did not start');
    await sleep(100);
  }
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(base, method, path, body) {
  const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function account() {
  const payload = new Uint8Array(33);
  payload[0] = 6 << 3;
  crypto.getRandomValues(payload.subarray(1));
  let crc = 0;
  for (const b of payload) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  const bytes = [...payload, crc & 0xff, crc >> 8];
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(buffer >> bits) & 31];
    }
  }
  return out;
}

async function seed(base, corridors, anchors) {
  const c = [];
  const a = [];
  const issuer = account();
  for (let i = 0; i < corridors; i += 50) {
    c.push(...(await Promise.all(Array.from({ length: Math.min(50, corridors - i) }, (_, j) => call(base, 'POST', '/api/corridors', { source_asset_code: `C${i + j}`, source_asset_issuer: issuer, dest_asset_code: 'USD', dest_asset_issuer: issuer })))));
  }
  for (let i = 0; i < anchors; i += 50) {
    a.push(...(await Promise.all(Array.from({ length: Math.min(50, anchors - i) }, (_, j) => call(base, 'POST', '/api/anchors', { name: `Anchor ${i + j}`, stellar_account: account() })))));
  }
  return { corridors: c, anchors: a };
}

/** REST metric writes at `perSecond`, round-robin over the records, until stopped. */
function writes(base, { corridors, anchors }, perSecond) {
  let running = true;
  let n = 0;
  const done = (async () => {
    const start = Date.now();
    while (running) {
      const i = n++;
      const total = 1 + Math.floor(Math.random() * 1e5);
      const ok = Math.floor(Math.random() * total);
      const w = i % 3 === 2
        ? call(base, 'PUT', `/api/anchors/${anchors[i % anchors.length].id}/metrics`, { total_transactions: total, successful_transactions: ok, failed_transactions: total - ok })
        : call(base, 'PUT', `/api/corridors/${corridors[i % corridors.length].id}/metrics`, { total_transactions: total, successful_transactions: ok, volume_usd: Math.random() * 1e7 });
      w.catch((e) => console.error(String(e)));
      await sleep(Math.max(0, start + ((i + 1) * 1000) / perSecond - Date.now()));
    }
  })();
  return async () => {
    running = false;
    await done;
    return n;
  };
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
function startStatic() {
  const dirs = { '/bench/': here, '/wasm/': join(root, 'pkg/') };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const prefix = Object.keys(dirs).find((p) => path.startsWith(p));
    const file = prefix && normalize(join(dirs[prefix], path.slice(prefix.length)));
    if (!file || !file.startsWith(dirs[prefix]) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ port: server.address().port, close: () => new Promise((c) => server.close(c)) })));
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

const server = await startServer();
const files = await startStatic();
const browser = await launch();
const results = [];
const failures = [];
try {
  for (const [nc, na] of SIZES) {
    await seed(server.base, nc, na);
    // Sizes add up on one database: the table holds every record so far.
    const records = { corridors: await (await fetch(`${server.base}/api/corridors`)).json(), anchors: await (await fetch(`${server.base}/api/anchors`)).json() };
    const [tc, ta] = [records.corridors.length, records.anchors.length];
    const stop = writes(server.base, records, WRITES_PER_SEC);
    await sleep(500);
    const times = { rest: [], state: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of round % 2 ? ['state', 'rest'] : ['rest', 'state']) {
        const context = await browser.newContext();
        const page = await context.newPage();
        page.on('pageerror', (e) => failures.push(`${variant}: ${e}`));
        const ws = `${server.base.replace('http', 'ws')}/ws`;
        await page.goto(`http://127.0.0.1:${files.port}/bench/page.html?variant=${variant}&api=${encodeURIComponent(server.base)}&ws=${encodeURIComponent(ws)}&corridors=${tc}&anchors=${ta}`);
        const ms = await Promise.race([page.evaluate(() => window.done), sleep(30_000).then(() => null)]);
        await context.close();
        if (ms === null) failures.push(`${variant} ${tc}/${ta}: table never complete`);
        else times[variant].push(ms);
      }
    }
    const n = await stop();
    for (const variant of ['rest', 'state']) {
      const xs = times[variant];
      if (!xs.length) continue;
      results.push({ size: `${tc} corridors, ${ta} anchors`, variant, median: median(xs), p90: pct(xs, 0.9), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
      console.log(`${tc}/${ta} ${variant.padEnd(5)} median ${median(xs).toFixed(1)} ms, p90 ${pct(xs, 0.9).toFixed(1)} ms (${xs.length} runs; ${n} writes during the size)`);
    }
  }
} catch (e) {
  failures.push(String(e?.stack ?? e));
} finally {
  await browser.close();
  await files.close();
  await server.stop();
}
if (failures.length) {
  console.error(`time-to-table check failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
if (smoke) {
  console.log('smoke ok: both variants completed the table');
  process.exit(0);
}
const fmt = (x) => x.toFixed(1);
writeSection(
  'time-to-table',
  'Time to a complete table: REST + replay vs state on subscribe (issue 14, point 5)',
  'cd bench && node state/run.mjs',
  `From page open (navigation start) to the first render of a table with every corridor and anchor, in Chromium, against the real server (\`${SERVER_BIN.replace(root, '')}\`, SQLite) while REST writes stream in at ${WRITES_PER_SEC}/s. Each run is a fresh browser context (wasm fetched and compiled each time, as on a first visit); variants alternate, ${ROUNDS} runs each per size. **rest**: the dashboard's old path (REST lists on open, live updates buffered and replayed on top, the lists again on the fresh \`connected\`); **state**: \`configure({ state: true })\`, the table from \`state()\` once the state answer is complete.

${table(['size', 'path', 'median ms', 'p90 ms', 'min ms', 'max ms', 'runs'], results.map((r) => [r.size, r.variant, fmt(r.median), fmt(r.p90), fmt(r.min), fmt(r.max), r.n]))}
`,
);
console.log('bench/RESULTS.md updated (time-to-table)');
