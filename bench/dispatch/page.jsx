// The bench page: one client per page load, driven by run.mjs through
// window.bench. Every client gets the same subscribers and the same work per
// delivered message (count it, keep it), so the numbers differ only by what
// the client does to route a frame.
import init, * as wasm from '../../pkg/stellar_insights_ws.js';
// An earlier build of the same package (`run.mjs --before-pkg DIR`; without
// it this is pkg/ again and the client is not run), served at /pkg-before/.
import initBefore, * as wasmBefore from 'before-pkg';
import { WebSocket as PartySocket } from 'partysocket';
// A CommonJS package with `exports.default`: esbuild's ESM interop needs the namespace.
import * as ruw from 'react-use-websocket';
import { createElement, useEffect } from 'react';
import { createRoot } from 'react-dom/client';

/** Subscribers of each workload: by type, plus one watching a corridor. */
function subscribers(workload, hot) {
  const watch = { type: 'corridor_update', key: hot };
  return workload === 'all'
    ? [{ type: 'snapshot_update' }, { type: 'corridor_update' }, { type: 'anchor_update' }, watch]
    : [watch];
}

const useWebSocket = ruw.default?.default ?? ruw.default;

const matches = (spec, m) => m.type === spec.type && (spec.key === undefined || m.corridor_key === spec.key);

let run;

function newRun(workload, { hot, count }) {
  const subs = subscribers(workload, hot);
  let finish;
  run = {
    subs,
    counts: subs.map(() => 0),
    last: subs.map(() => null),
    count,
    finished: new Promise((r) => (finish = r)),
    start: 0,
    end: 0,
  };
  run.finish = () => {
    run.end = performance.now();
    finish();
  };
  return run;
}

/** The per-message work of subscriber `i`; the watcher ends the run on the last seq. */
function handler(i) {
  const watcher = run.subs[i].key !== undefined;
  return (m) => {
    run.counts[i]++;
    run.last[i] = m;
    if (watcher && m.seq === run.count) run.finish();
  };
}

// (b) The floor: raw WebSocket, JSON.parse, a Map of handlers by type.
function floor(url) {
  const handlers = new Map();
  run.subs.forEach((spec, i) => {
    const h = handler(i);
    const list = handlers.get(spec.type) ?? [];
    list.push(spec.key === undefined ? h : (m) => m.corridor_key === spec.key && h(m));
    handlers.set(spec.type, list);
  });
  const ws = new WebSocket(url);
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    const list = handlers.get(m.type);
    if (list) for (const h of list) h(m);
  };
  return new Promise((r) => (ws.onopen = () => r(() => ws.send('{"type":"bench_start"}'))));
}

// (a) The wasm client: one subscribe() per subscriber, filtering in Rust.
const wasmReady = {};
async function wasmClient(url, lib, start, path) {
  wasmReady[path] ??= start({ module_or_path: `${path}stellar_insights_ws_bg.wasm` });
  await wasmReady[path];
  lib.configure({ url, maxReconnectAttempts: 0 });
  lib.onError((e) => console.error('wasm client error', e.code, e.message));
  run.subs.forEach((spec, i) => {
    const filter = spec.key === undefined ? { types: [spec.type] } : { types: [spec.type], corridorKeys: [spec.key] };
    lib.subscribe(filter, handler(i));
  });
  const open = new Promise((r) => lib.onStatus((s) => s.state === 'open' && r()));
  lib.acquire();
  await open;
  return () => lib.send('{"type":"bench_start"}');
}
const ours = (url) => wasmClient(url, wasm, init, '/pkg/');
const oursBefore = (url) => wasmClient(url, wasmBefore, initBefore, '/pkg-before/');

// (d) partysocket: its reconnecting socket, one listener, JSON.parse once,
// the same Map of handlers (the cheapest way to use it).
function party(url) {
  const handlers = run.subs.map((spec, i) => [spec, handler(i)]);
  const ws = new PartySocket(url, undefined, { maxRetries: 0 });
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(e.data);
    for (const [spec, h] of handlers) if (matches(spec, m)) h(m);
  });
  return new Promise((r) => ws.addEventListener('open', () => r(() => ws.send('{"type":"bench_start"}')), { once: true }));
}

// (c) react-use-websocket: one component per subscriber sharing the socket
// (`share: true`); its `filter` option gets the raw MessageEvent, so each
// filter parses the frame, and a passing frame becomes the hook's state
// (counted as delivered when the filter lets it through).
function Sub({ i, url, onReady }) {
  const spec = run.subs[i];
  const { lastJsonMessage, sendMessage, readyState } = useWebSocket(url, {
    share: true,
    filter: (e) => {
      const m = JSON.parse(e.data);
      if (!matches(spec, m)) return false;
      run.counts[i]++;
      run.last[i] = m;
      return true;
    },
  });
  // React may coalesce several deliveries into one render; the run ends when
  // the watcher has rendered the last frame.
  useEffect(() => {
    if (spec.key !== undefined && lastJsonMessage?.seq === run.count) run.finish();
  }, [lastJsonMessage]);
  useEffect(() => {
    if (readyState === 1 && i === 0) onReady(() => sendMessage('{"type":"bench_start"}'));
  }, [readyState]);
  return createElement('span', null, lastJsonMessage?.seq ?? '');
}

function reactUseWebsocket(url) {
  const root = createRoot(document.getElementById('root'));
  return new Promise((r) => root.render(run.subs.map((_, i) => createElement(Sub, { key: i, i, url, onReady: r }))));
}

const CLIENTS = { ours, 'ours-before': oursBefore, floor, 'react-use-websocket': reactUseWebsocket, partysocket: party };

// Every socket the page opens, so `replay` can call a client's own
// `onmessage` handler directly (the `--handler` mode).
const sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
};

window.bench = {
  /** Connect `client` and subscribe; resolves when the flood can start. */
  async prepare(client, workload, meta) {
    newRun(workload, meta);
    run.trigger = await CLIENTS[client](meta.url);
  },
  /**
   * Hand `frames` to the client's socket handler in a tight loop, without
   * the browser's WebSocket delivery in between: the client's own cost per
   * frame. For clients that set `onmessage` (ours, floor).
   */
  replay(frames) {
    const ws = sockets.at(-1);
    const events = frames.map((data) => new MessageEvent('message', { data }));
    // Timed in chunks: the fastest chunk is the cost without preemption by
    // other processes, the total the cost with it.
    const chunkMs = [];
    const t0 = performance.now();
    // 2 000 frames: performance.now() ticks by 0.1 ms here, so a chunk's
    // cost per frame is known to 0.05 µs.
    for (let at = 0; at < events.length; at += 2000) {
      const c0 = performance.now();
      for (const e of events.slice(at, at + 2000)) ws.onmessage(e);
      chunkMs.push(performance.now() - c0);
    }
    return { counts: run.counts, elapsedMs: performance.now() - t0, chunkMs };
  },
  /** Start the flood; resolves with counts and elapsed ms when the last frame is delivered. */
  async flood(timeoutMs) {
    run.start = performance.now();
    run.trigger();
    const timeout = new Promise((r) => setTimeout(r, timeoutMs, 'timeout'));
    const outcome = await Promise.race([run.finished, timeout]);
    return { timedOut: outcome === 'timeout', counts: run.counts, elapsedMs: (run.end || performance.now()) - run.start };
  },
};
