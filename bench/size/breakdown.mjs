// Where the wasm module's code goes, by crate: function body sizes from the
// name section of the module as wasm-bindgen emits it (before wasm-opt, which
// strips the names), grouped by the crate in each function's path. Shares
// are indicative: wasm-opt shrinks everything by roughly a third.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function functions(buf) {
  let p = 8;
  const u = () => {
    let r = 0, s = 0, b;
    do { b = buf[p++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80);
    return r;
  };
  const skipName = () => { const l = u(); p += l; };
  let imports = 0;
  const bodies = [];
  const names = new Map();
  while (p < buf.length) {
    const id = buf[p++];
    const size = u();
    const end = p + size;
    if (id === 2) {
      for (let n = u(), i = 0; i < n; i++) {
        skipName(); skipName();
        const kind = buf[p++];
        if (kind === 0) { u(); imports++; }
        else if (kind === 1) { p++; const f = u(); u(); if (f & 1) u(); }
        else if (kind === 2) { const f = u(); u(); if (f & 1) u(); }
        else if (kind === 3) p += 2;
        else if (kind === 4) { p++; u(); }
      }
    } else if (id === 10) {
      for (let n = u(), i = 0; i < n; i++) { const s = u(); bodies.push(s); p += s; }
    } else if (id === 0) {
      const l = u();
      const name = buf.subarray(p, p + l).toString();
      p += l;
      if (name === 'name') {
        while (p < end) {
          const sub = buf[p++];
          const subEnd = u() + p;
          if (sub === 1) for (let n = u(), i = 0; i < n; i++) { const idx = u(); const l2 = u(); names.set(idx, buf.subarray(p, p + l2).toString()); p += l2; }
          p = subEnd;
        }
      }
    }
    p = end;
  }
  return bodies.map((size, i) => ({ size, name: names.get(i + imports) ?? '' }));
}

function crateOf(name) {
  const m = name.replace(/^[<&\s]+/, '').match(/^([A-Za-z_][A-Za-z0-9_]*)/);
  if (!m) return '(unnamed)';
  const crate = m[1];
  // std's allocator and wasm-bindgen's generated shims are worth naming apart.
  if (crate === 'stellar_insights_ws') return `stellar_insights_ws::${name.split('::')[1] ?? ''}`.replace(/\[.*$/, '');
  return crate;
}

/** Rows [crate, KB, share %] for the release module, or null if it cannot be produced. */
export function breakdown(root) {
  const module = `${root}target/wasm32-unknown-unknown/wasm-release/stellar_insights_ws.wasm`;
  if (!existsSync(module)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'si-size-'));
  try {
    execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', dir, module], { stdio: 'ignore' });
    const fns = functions(readFileSync(join(dir, 'stellar_insights_ws_bg.wasm')));
    const total = fns.reduce((a, f) => a + f.size, 0);
    const by = new Map();
    for (const f of fns) by.set(crateOf(f.name), (by.get(crateOf(f.name)) ?? 0) + f.size);
    return [...by].sort((a, b) => b[1] - a[1]).slice(0, 20)
      .map(([crate, bytes]) => [crate, (bytes / 1000).toFixed(1), ((bytes / total) * 100).toFixed(1)]);
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
