// The browser side of the soak (server/tests/soak.rs): the real wasm client
// from pkg/ in headless Chromium, connected to a WebSocket URL (the soak's
// fault proxy) and subscribed to every corridor_update.
//
//   node soak/browser.mjs ws://127.0.0.1:PORT/ws
//
// Protocol with the parent, one line each way: every line read on stdin asks
// for a sample, answered by one JSON line on stdout:
//   {"wasm_bytes", "js_heap_bytes", "delivered", "last_seq", "seq_violations",
//    "opens", "resyncs", "errors": {code: count}}
// `wasm_bytes` is the wasm linear memory (`memory.buffer.byteLength`);
// `js_heap_bytes` is the page's used JS heap right after a forced GC (CDP
// HeapProfiler.collectGarbage + Runtime.getHeapUsage), so it counts what is
// still reachable, not garbage waiting for the collector. The first line on
// stdout is {"ready": true} once the client is subscribed and connecting.
// stdin closing (the parent exited, however it died), SIGTERM or SIGINT
// close Chromium and exit.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const url = process.argv[2];
if (!url?.startsWith('ws://')) {
  console.error('usage: node soak/browser.mjs ws://HOST:PORT/ws');
  process.exit(2);
}
const pkg = fileURLToPath(new URL('../../pkg/', import.meta.url));
if (!existsSync(`${pkg}stellar_insights_ws_bg.wasm`)) {
  console.error(`soak browser: ${pkg} has no wasm build: run scripts/build-wasm.sh first`);
  process.exit(1);
}

// The page keeps its counters on window.soak; seq must rise strictly across
// every reconnect and resync, as the native checked client's must.
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
import init, * as ws from '/pkg/stellar_insights_ws.js';
const exports = await init({ module_or_path: '/pkg/stellar_insights_ws_bg.wasm' });
const s = { delivered: 0, last_seq: 0, seq_violations: 0, opens: 0, resyncs: 0, errors: {} };
ws.configure({ url: ${JSON.stringify(url)}, maxReconnectAttempts: null, maxReconnectDelay: 5000 });
ws.subscribe({ types: ['corridor_update'] }, (m) => {
  s.delivered++;
  if (!(m.seq > s.last_seq)) s.seq_violations++;
  s.last_seq = m.seq ?? s.last_seq;
});
let state = 'idle';
ws.onStatus((st) => {
  if (st.state === 'open' && state !== 'open') s.opens++;
  state = st.state;
});
ws.onResync(() => { s.resyncs++; });
ws.onError((e) => { s.errors[e.code] = (s.errors[e.code] ?? 0) + 1; });
ws.acquire();
window.soak = () => ({ ...s, errors: { ...s.errors }, wasm_bytes: exports.memory.buffer.byteLength });
</script>`;

const http = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  const file = path.startsWith('/pkg/') && !path.includes('..') ? path.slice(5) : null;
  try {
    if (!file) throw new Error('not found');
    const body = await readFile(pkg + file);
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  } catch {
    res.writeHead(404).end('not found');
  }
});
await new Promise((r) => http.listen(0, '127.0.0.1', r));

// Imported only now, so a bad argument is reported even without node_modules.
const { launch } = await import('../lib/browser.mjs');

const browser = await launch();
let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  await browser.close().catch(() => {});
  http.close();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('soak browser: page error:', String(e)));
  page.on('crash', () => {
    console.error('soak browser: renderer crashed');
    shutdown(1);
  });
  const cdp = await page.context().newCDPSession(page);
  await page.goto(`http://127.0.0.1:${http.address().port}/`);
  await page.waitForFunction(() => typeof window.soak === 'function', null, { timeout: 30_000 });

  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => shutdown(0));
  console.log(JSON.stringify({ ready: true }));
  // One request at a time: readline queues lines, the loop answers in order.
  for await (const _ of lines) {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    const s = await page.evaluate(() => window.soak());
    console.log(JSON.stringify({ ...s, js_heap_bytes: usedSize }));
  }
} catch (e) {
  console.error('soak browser:', e);
  await shutdown(1);
}
await shutdown(0);
