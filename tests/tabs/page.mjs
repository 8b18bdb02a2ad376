// A tab of the cross-tab sharing suite (tabs.test.mjs): loads the wasm
// package served next to it, subscribes to corridor updates and records
// what it receives, with the time and the connection it came through.
// Query: share=0 (shareAcrossTabs: false), keys=K1,K2 (corridor keys),
// throw=1 (the callback throws), slow=<ms> (the callback busy-waits).
import init, * as ws from './pkg/stellar_insights_ws.js';

const q = new URLSearchParams(location.search);
const slow = Number(q.get('slow') ?? 0);
const t = (window.t = { got: [], statuses: [], resyncs: [], errors: [], start: null, shows: [] });
await init();
ws.configure({ sameOrigin: true, shareAcrossTabs: q.get('share') !== '0', maxReconnectAttempts: null });
ws.onStatus((s) => {
  t.statuses.push({ ...s, at: Date.now() });
  if (s.connectionId && t.start === null) t.start = ws.lastSeq() ?? 0;
  document.getElementById('state').textContent = s.state;
});
ws.onResync((e) => t.resyncs.push(e));
ws.onError((e) => t.errors.push(e.code));
window.subscribeKeys = (keys) => {
  ws.subscribe({ types: ['corridor_update'], corridorKeys: keys }, (m) => {
    t.got.push([m.seq, Date.now(), ws.connectionId(), m.corridor_key]);
  });
};
const keys = q.get('keys') ? q.get('keys').split(',') : undefined;
ws.subscribe({ types: ['corridor_update'], corridorKeys: keys }, (m) => {
  t.got.push([m.seq, Date.now(), ws.connectionId(), m.corridor_key]);
  if (slow) {
    const until = performance.now() + slow;
    while (performance.now() < until);
  }
  if (q.get('throw')) throw new Error('callback fails on purpose');
});
addEventListener('pageshow', (e) => t.shows.push(e.persisted));
t.lifecycle = [];
for (const name of ['freeze', 'resume', 'visibilitychange']) document.addEventListener(name, () => t.lifecycle.push([name, Date.now(), document.visibilityState]));
window.ws = ws;
ws.acquire();
