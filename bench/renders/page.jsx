// The renders bench page: the dashboard's corridor table (www's real
// CorridorsTable and memoised CorridorRowView, state reduced by www's real
// `reduce`) fed either by (ours) www's useWebSocket hook over the wasm client
// with the dashboard's frame-batched store, or by (baseline) a hook that
// calls setState on every message. Component renders are counted at each
// React commit from the fiber tree: a component rendered in a commit when its
// memoised props object is new (React keeps the old one when it bails out).
import { createElement, useEffect, useState, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { loadClient, setLoader } from 'stellar-insights-ws';
import { useWebSocket } from '@/hooks/useWebSocket';
import { BatchedStore } from '@/lib/batchedStore';
import { initialDashboard, reduce } from '@/lib/dashboard';
import { CorridorRowView, CorridorsTable } from '@/components/Tables';

// The bench server serves the .wasm from pkg/ at /wasm/.
setLoader({ wasmUrl: '/wasm/stellar_insights_ws_bg.wasm' });

const stats = { table: 0, rows: new Map(), commits: 0, messages: 0, firstAt: 0, lastAt: 0 };
const arrived = () => {
  stats.messages++;
  stats.lastAt = performance.now();
  stats.firstAt ||= stats.lastAt;
};
const seen = new WeakSet();

function count(fiber) {
  for (let f = fiber; f; f = f.sibling) {
    const props = f.memoizedProps;
    if ((f.elementType === CorridorsTable || f.elementType === CorridorRowView) && props && !seen.has(props)) {
      seen.add(props);
      if (f.elementType === CorridorsTable) stats.table++;
      else stats.rows.set(props.row.id, (stats.rows.get(props.row.id) ?? 0) + 1);
    }
    if (f.child) count(f.child);
  }
}
window.onReactCommit = (root) => {
  stats.commits++;
  count(root.current);
};

const apply = (state, message) => reduce(state, { type: 'message', message, at: Date.now() });
const noop = () => {};

function Table({ state }) {
  return state.corridors.length ? createElement(CorridorsTable, { rows: state.corridors, selected: undefined, onSelect: noop }) : null;
}

// Ours: the dashboard's pattern (useDashboard): the hook's onMessage reduces
// into a BatchedStore, which notifies React at most once per animation frame.
function Ours({ url, onReady }) {
  const [store] = useState(() => new BatchedStore(initialDashboard));
  const state = useSyncExternalStore(store.subscribe, store.get, store.get);
  const { isConnected } = useWebSocket({
    url, messageTypes: ['corridor_update'],
    onError: (message, e) => console.error('realtime error', e.code, message),
    onMessage: (m) => {
      arrived();
      store.update((s) => apply(s, m));
    },
  });
  useEffect(() => {
    if (isConnected) loadClient().then((api) => onReady((text) => api.send(text)));
  }, [isConnected]);
  return createElement(Table, { state });
}

// Baseline: setState on every message.
function Baseline({ url, onReady }) {
  const [state, setState] = useState(initialDashboard);
  useEffect(() => {
    const ws = new WebSocket(url);
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type !== 'corridor_update') return;
      arrived();
      setState((s) => apply(s, m));
    };
    ws.onopen = () => onReady((text) => ws.send(text));
    return () => ws.close();
  }, [url]);
  return createElement(Table, { state });
}

window.bench = {
  /** Mount `variant`; resolves once its socket is open. */
  prepare(variant, url) {
    return new Promise((resolve) => {
      window.sendToServer = null;
      const onReady = (send) => {
        window.sendToServer = send;
        resolve();
      };
      createRoot(document.getElementById('root')).render(createElement(variant === 'ours' ? Ours : Baseline, { url, onReady }));
    });
  },
  /** Ask for `rate` frames/s until `count` are sent; resolves with render counts once all arrived and settled. */
  async run(rate, count) {
    const start = performance.now();
    window.sendToServer(JSON.stringify({ type: 'bench_start', rate }));
    while (stats.messages < count && performance.now() - start < (count / rate) * 1000 * 3 + 5000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    const rows = [...stats.rows.values()];
    return {
      seconds: (stats.lastAt - stats.firstAt) / 1000,
      messages: stats.messages,
      commits: stats.commits,
      table: stats.table,
      rowMax: Math.max(0, ...rows),
      rowMean: rows.reduce((a, b) => a + b, 0) / Math.max(1, rows.length),
      rowsSeen: rows.length,
      rowsInDom: document.querySelectorAll('[data-testid="corridor-row"]').length,
    };
  },
};
