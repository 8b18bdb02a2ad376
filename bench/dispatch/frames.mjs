// The flood the dispatch bench sends: server frames exactly as
// stellar-insights-server serialises them (serde field order: `type`, `seq`,
// then the routing key; f64 written like serde_json; with `legacyOrder`,
// `seq` last, as the server wrote them before issue 16), a realistic mix of the three update types
// over 1 000 corridors and 100 anchors, from a seeded PRNG so every run and
// every client gets the same bytes. One corridor (`hot`) receives 1 % of all
// frames: the page "watching one corridor" filters out the other 99 %.

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const CODES = ['USDC', 'EURC', 'XLM', 'BRL', 'NGNT', 'ARST', 'MXN', 'PHP', 'KES', 'GHS'];

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** serde_json's f64: shortest round trip, integral values keep `.0`. */
export function f64(x) {
  const s = JSON.stringify(x);
  return Number.isInteger(x) && !s.includes('e') ? `${s}.0` : s;
}

function uuid(rand) {
  const h = () => Math.floor(rand() * 16).toString(16);
  const part = (n) => Array.from({ length: n }, h).join('');
  return `${part(8)}-${part(4)}-4${part(3)}-a${part(3)}-${part(12)}`;
}

const account = (rand) => `G${Array.from({ length: 55 }, () => B32[Math.floor(rand() * 32)]).join('')}`;

/**
 * `count` update frames (seq 1..count) plus the `connected` frame. The last
 * frame is always an update of the hot corridor: clients detect the end by
 * seeing `seq === count` there. With `corridorsOnly: n` (the renders bench)
 * every frame is a corridor update, cycling over the first n corridors.
 */
export function generate(count, seed = 5, { corridorsOnly = 0, legacyOrder = false } = {}) {
  const rand = prng(seed);
  const corridors = Array.from({ length: 1000 }, (_, i) => {
    const a = CODES[i % CODES.length];
    const b = CODES[(i * 7 + 3) % CODES.length];
    return { id: uuid(rand), key: `${a}:${account(rand)}->${b}:${account(rand)}` };
  });
  const anchors = Array.from({ length: 100 }, (_, i) => ({ id: uuid(rand), name: `Anchor ${i} Payments` }));
  const hot = corridors[0];
  const statuses = ['green', 'green', 'green', 'yellow', 'red'];
  const frames = [];
  const counts = { snapshot_update: 0, corridor_update: 0, anchor_update: 0, hot: 0 };
  // `head` members first (the server's order), or `seq` moved last.
  const frame = (type, seq, head, rest) =>
    legacyOrder
      ? `{"type":"${type}",${head ? `${head},` : ''}${rest},"seq":${seq}}`
      : `{"type":"${type}","seq":${seq},${head ? `${head},` : ''}${rest}}`;
  const corridorFrame = (c, seq) => {
    const metrics = `"success_rate":${f64(Math.round(rand() * 10000) / 100)},` +
      `"volume_usd":${f64(Math.round(rand() * 1e9) / 100)},"total_transactions":${Math.floor(rand() * 1e6)}`;
    return legacyOrder
      ? `{"type":"corridor_update","corridor_id":"${c.id}","corridor_key":"${c.key}",${metrics},"seq":${seq}}`
      : frame('corridor_update', seq, `"corridor_key":"${c.key}"`, `"corridor_id":"${c.id}",${metrics}`);
  };
  for (let seq = 1; seq <= count; seq++) {
    if (corridorsOnly) {
      // The renders bench: corridor updates only, spread over the first `corridorsOnly` corridors.
      frames.push(corridorFrame(corridors[(seq - 1) % corridorsOnly], seq));
      counts.corridor_update++;
      continue;
    }
    const r = rand();
    if (seq === count || r < 0.01) {
      frames.push(corridorFrame(hot, seq));
      counts.corridor_update++;
      counts.hot++;
    } else if (r < 0.7) {
      frames.push(corridorFrame(corridors[1 + Math.floor(rand() * 999)], seq));
      counts.corridor_update++;
    } else if (r < 0.95) {
      const a = anchors[Math.floor(rand() * anchors.length)];
      frames.push(
        frame('anchor_update', seq, `"anchor_id":"${a.id}"`,
          `"name":"${a.name}","reliability_score":${f64(Math.round(rand() * 1000) / 10)},` +
          `"status":"${statuses[Math.floor(rand() * statuses.length)]}"`),
      );
      counts.anchor_update++;
    } else {
      const epoch = 1000 + seq;
      const hash = Array.from({ length: 64 }, () => Math.floor(rand() * 16).toString(16)).join('');
      frames.push(
        frame('snapshot_update', seq, '',
          `"snapshot_id":"${uuid(rand)}","epoch":${epoch},` +
          `"timestamp":"${new Date(Date.UTC(2026, 10, 25) + seq * 1000).toISOString().replace('.000Z', 'Z')}",` +
          `"hash":"${hash}"`),
      );
      counts.snapshot_update++;
    }
  }
  const connected =
    '{"type":"connected","connection_id":"6f1c2b1e-0d7a-4c55-9d1e-2a4b8c9e0f11","protocol":1,"heartbeat_ms":30000,"seq":0,"resumed":false}';
  return { frames, connected, hotKey: hot.key, counts, count };
}
