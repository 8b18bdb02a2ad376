// What it costs, in headless Chromium, to copy a frame's text into wasm
// memory (the first thing a wasm client must do with it) next to
// `JSON.parse` of the same text (all the floor does): per frame of the
// dispatch flood, best of 20 passes over 10 000 frames.
//
//   node dispatch/copy.mjs
import { generate } from './frames.mjs';
import { launch } from '../lib/browser.mjs';

const frames = generate(10_000).frames;
const browser = await launch();
try {
  const page = await browser.newPage();
  const rows = await page.evaluate((frames) => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const view = new Uint8Array(memory.buffer, 1024, 8192);
    const encoder = new TextEncoder();
    const ways = {
      'TextEncoder.encodeInto into wasm memory': (t) => encoder.encodeInto(t, view).written,
      'charCodeAt loop into wasm memory (ASCII)': (t) => {
        let i = 0;
        for (; i < t.length; i++) view[i] = t.charCodeAt(i);
        return i;
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
      return [name, ((best * 1000) / frames.length).toFixed(2), sink > 0];
    });
  }, frames);
  const bytes = Math.round(frames.reduce((a, f) => a + f.length, 0) / frames.length);
  console.log(`per frame (avg ${bytes} B), µs:`);
  for (const [name, us] of rows) console.log(`  ${us.padStart(6)}  ${name}`);
} finally {
  await browser.close();
}
