// Where a wasm client's per-frame time can go, in headless Chromium, next to
// `JSON.parse` of the same text (all the floor does): copying a frame's text
// into wasm memory (what a client that reads frames in wasm must do first),
// and each step of the wasm client's in-JS prefix reader (kind, `seq`, key
// of an update in the server's member order; cumulative). Per frame of the
// dispatch flood, best of 20 passes over 10 000 frames.
//
//   node dispatch/copy.mjs
import { generate } from './frames.mjs';
import { launch } from '../lib/browser.mjs';

const stream = generate(10_000);
const browser = await launch();
try {
  const page = await browser.newPage();
  const rows = await page.evaluate(([frames, hot]) => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const view = new Uint8Array(memory.buffer, 1024, 8192);
    const encoder = new TextEncoder();
    const HEADS = ['{"type":"corridor_update","seq":', '{"type":"anchor_update","seq":', '{"type":"snapshot_update","seq":'];
    const named = new Map([[hot, 1]]);
    const byLength = new Map([[hot.length, [hot, 1]]]);
    const kind = (t) => {
      for (let k = 0; k < 3; k++) if (t.startsWith(HEADS[k])) return k;
      return -1;
    };
    const seqEnd = (t) => {
      let i = HEADS[kind(t)].length;
      let seq = 0;
      for (let c = t.charCodeAt(i); c >= 48 && c <= 57; c = t.charCodeAt(++i)) seq = seq * 10 + c - 48;
      return i + seq * 0;
    };
    const keyAt = (t) => {
      const start = t.indexOf(':"', seqEnd(t)) + 2;
      return [start, t.indexOf('"', start)];
    };
    const ways = {
      'copy: TextEncoder.encodeInto into wasm memory': (t) => encoder.encodeInto(t, view).written,
      'copy: charCodeAt loop into wasm memory (ASCII)': (t) => {
        let i = 0;
        for (; i < t.length; i++) view[i] = t.charCodeAt(i);
        return i;
      },
      'prefix: kind (startsWith of up to 3 heads)': (t) => kind(t) + 2,
      'prefix: kind + seq digits': (t) => seqEnd(t),
      'prefix: kind + seq + key bounds (indexOf)': (t) => keyAt(t)[1],
      'prefix: ... + key by Map.get(slice) (hashes the key)': (t) => {
        const [start, end] = keyAt(t);
        return (named.get(t.slice(start, end)) ?? 0) + 1;
      },
      'prefix: ... + key by length, then startsWith (the client)': (t) => {
        const [start, end] = keyAt(t);
        const escape = t.indexOf('\\', start);
        if (escape >= 0 && escape < end) return 0;
        const same = byLength.get(end - start);
        return same !== undefined && t.startsWith(same[0], start) ? 2 : 1;
      },
      'JSON.parse': (t) => JSON.parse(t).type.length,
    };
    return Object.entries(ways).map(([name, fn]) => {
      let best = Infinity;
      let sink = 0;
      for (let pass = 0; pass < 20; pass++) {
        const t0 = performance.now();
        for (const f of frames) sink += fn(f);
        best = Math.min(best, performance.now() - t0);
      }
      return [name, ((best * 1000) / frames.length).toFixed(3), sink > 0];
    });
  }, [stream.frames, stream.hotKey]);
  const bytes = Math.round(stream.frames.reduce((a, f) => a + f.length, 0) / stream.frames.length);
  console.log(`per frame (avg ${bytes} B), µs:`);
  for (const [name, us] of rows) console.log(`  ${us.padStart(6)}  ${name}`);
} finally {
  await browser.close();
}
