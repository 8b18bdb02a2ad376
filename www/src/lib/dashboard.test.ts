import type { WsMessage } from 'stellar-insights-ws';
import { INGEST } from '@/test/ingestFixture';
import type { DashboardData } from './api';
import { describe as describeMessage, HISTORY_MS, initialDashboard, MAX_LOG, reduce, shortAccount, shortKey, sourceLabel, type DashboardState } from './dashboard';

const data = (over: Partial<DashboardData> = {}): DashboardData => ({
  anchors: [
    { id: 'a1', name: 'Anchor One', stellar_account: 'GABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVW', reliability_score: 99, status: 'green' } as never,
  ],
  corridors: [{ id: 'c1', corridor_key: 'USDC:GA->EURC:GB', success_rate: 97.5, volume_usd: 1000, total_transactions: 40 } as never],
  snapshots: [
    { id: 's1', epoch: 1, timestamp: '2026-01-01T00:00:00Z', hash: 'aa'.repeat(32) },
    { id: 's2', epoch: 2, timestamp: '2026-01-01T00:01:00Z', hash: 'bb'.repeat(32) },
  ],
  health: { status: 'ok', demo: false },
  ...over,
});

const corridorUpdate = (rate: number, n = 41): WsMessage => ({
  type: 'corridor_update', corridor_id: 'c1', corridor_key: 'USDC:GA->EURC:GB', success_rate: rate, volume_usd: 2000, total_transactions: n, seq: n,
});

function loaded(over: Partial<DashboardData> = {}): DashboardState {
  let s = reduce(initialDashboard, { type: 'load_start', generation: 1 });
  s = reduce(s, { type: 'load_done', generation: 1, data: data(over), at: 1000 });
  return s;
}

describe('dashboard reducer', () => {
  it('shows REST data after a load, snapshots newest first, demo flag from /health', () => {
    const s = loaded({ health: { demo: true } });
    expect(s.loaded).toBe(true);
    expect(s.demo).toBe(true);
    expect(s.corridors.map((c) => [c.corridor_key, c.flash])).toEqual([['USDC:GA->EURC:GB', 0]]);
    expect(s.snapshots.map((x) => x.epoch)).toEqual([2, 1]);
  });

  it('updates a corridor row in place and counts the change for the highlight', () => {
    const s = reduce(loaded(), { type: 'message', message: corridorUpdate(88.5), at: 2000 });
    expect(s.corridors).toHaveLength(1);
    expect(s.corridors[0]).toMatchObject({ success_rate: 88.5, volume_usd: 2000, total_transactions: 41, flash: 1 });
    expect(s.history['USDC:GA->EURC:GB'].map((p) => p.successRate)).toEqual([97.5, 88.5]);
  });

  it('adds an anchor created live, without an account until REST fills it in', () => {
    let s = reduce(loaded(), { type: 'message', message: { type: 'anchor_update', anchor_id: 'a2', name: '<img src=x>', reliability_score: 0, status: 'red' }, at: 2000 });
    expect(s.anchors[1]).toMatchObject({ id: 'a2', name: '<img src=x>', flash: 1 });
    expect(s.anchors[1].stellar_account).toBeUndefined();
    s = reduce(s, { type: 'anchor_details', anchor: { id: 'a2', stellar_account: 'GXYZ' } as never });
    expect(s.anchors[1].stellar_account).toBe('GXYZ');
  });

  it('keeps an account fetched during a reload that did not yet see the anchor', () => {
    const created: WsMessage = { type: 'anchor_update', anchor_id: 'a2', name: 'New', reliability_score: 0, status: 'red' };
    let s = loaded();
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'message', message: created, at: 1 });
    s = reduce(s, { type: 'anchor_details', anchor: { id: 'a2', stellar_account: 'GNEW' } as never });
    // The reload read the anchors before a2 existed; the buffered update re-adds it.
    s = reduce(s, { type: 'load_done', generation: 2, data: data(), at: 2 });
    expect(s.anchors.find((a) => a.id === 'a2')?.stellar_account).toBe('GNEW');
  });

  it('replays updates that arrived during a reload on top of its (older) result', () => {
    let s = loaded();
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'message', message: corridorUpdate(50, 99), at: 3000 });
    s = reduce(s, { type: 'load_done', generation: 2, data: data(), at: 3100 });
    expect(s.corridors[0].success_rate).toBe(50);
    expect(s.buffered).toEqual([]);
  });

  it('adds no chart point when a reload finds the same values', () => {
    let s = loaded();
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'load_done', generation: 2, data: data(), at: 5000 });
    expect(s.history['USDC:GA->EURC:GB']).toHaveLength(1);
  });

  it('ignores the result of a load superseded by a newer one', () => {
    let s = reduce(initialDashboard, { type: 'load_start', generation: 1 });
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'load_done', generation: 1, data: data({ corridors: [] }), at: 1 });
    expect(s.loaded).toBe(false);
    s = reduce(s, { type: 'load_failed', generation: 1, message: 'old' });
    expect(s.loadError).toBeUndefined();
    s = reduce(s, { type: 'load_failed', generation: 2, message: 'GET /api/anchors: server unreachable' });
    expect(s.loadError).toBe('GET /api/anchors: server unreachable');
    expect(s.loading).toBe(false);
  });

  it('adds a live snapshot once, newest first', () => {
    const snap: WsMessage = { type: 'snapshot_update', snapshot_id: 's3', epoch: 3, timestamp: '2026-01-01T00:02:00Z', hash: 'cc'.repeat(32) };
    let s = reduce(loaded(), { type: 'message', message: snap, at: 1 });
    s = reduce(s, { type: 'message', message: snap, at: 2 });
    expect(s.snapshots.map((x) => x.epoch)).toEqual([3, 2, 1]);
  });

  it('keeps only the newest log lines and chart points inside the history window', () => {
    let s = loaded();
    for (let i = 0; i < MAX_LOG + 10; i++) s = reduce(s, { type: 'message', message: corridorUpdate(90, i), at: 1000 + i });
    expect(s.log).toHaveLength(MAX_LOG);
    expect(s.log[0].text).toContain(`of ${MAX_LOG + 9} tx`);
    s = reduce(s, { type: 'message', message: corridorUpdate(70), at: 1000 + HISTORY_MS + 100 });
    const series = s.history['USDC:GA->EURC:GB'];
    expect(series.every((p) => p.t >= 100 + 1000)).toBe(true);
    expect(series[series.length - 1].successRate).toBe(70);
  });
});

describe('recent history from the server', () => {
  const key = 'USDC:GA->EURC:GB';
  const hp = (t: number, rate: number, volume = 1000) => ({ t, success_rate: rate, volume_usd: volume, total_transactions: 40 });

  it('opens the chart with the server history; the REST value equal to its last point adds no point', () => {
    const s = loaded({ history: { [key]: [hp(100, 90), hp(200, 95), hp(300, 97.5)] } });
    expect(s.history[key].map((p) => [p.t, p.successRate, p.volume])).toEqual([[100, 90, 1000], [200, 95, 1000], [300, 97.5, 1000]]);
  });

  it('puts only points older than those seen live in front, on a reload too, and drops those older than the span', () => {
    let s = reduce(loaded(), { type: 'message', message: corridorUpdate(88), at: 2000 });
    expect(s.history[key].map((p) => p.t)).toEqual([1000, 2000]);
    s = reduce(s, { type: 'load_start', generation: 2 });
    const old = 3000 - HISTORY_MS - 1;
    s = reduce(s, { type: 'load_done', generation: 2, data: data({ history: { [key]: [hp(old, 10), hp(500, 80), hp(1500, 85)] } }), at: 3000 });
    expect(s.history[key].map((p) => [p.t, p.successRate])).toEqual([[500, 80], [1000, 97.5], [2000, 88], [3000, 97.5]]);
  });
});

describe('data source and Horizon ingestion details', () => {
  const horizon = { health: { status: 'ok', demo: false, source: 'horizon-testnet' }, ingest: { ticket: 10, corridors: INGEST } };

  it('keeps /health source (demo when only the demo flag is there) and words it for the header', () => {
    expect(loaded({ health: { source: 'rest' } }).source).toBe('rest');
    expect(loaded({ health: { demo: true } }).source).toBe('demo');
    expect(loaded({ health: {} }).source).toBeUndefined();
    expect(['demo', 'rest', 'horizon-public', 'horizon-testnet'].map(sourceLabel)).toEqual(['demo', 'REST', 'Horizon public', 'Horizon testnet']);
  });

  it('keeps the ingestion details by corridor key', () => {
    const s = loaded(horizon);
    expect(Object.keys(s.ingest)).toEqual(INGEST.map((r) => r.corridor_key));
    expect(s.ingestTicket).toBe(10);
  });

  it('ignores details older than those shown, and keeps the object of a corridor whose details did not change', () => {
    let s = loaded(horizon);
    const [first, second] = INGEST;
    const changed = { ...second, top_failure_reason: 'op_no_trust' };
    s = reduce(s, { type: 'ingest_done', result: { ticket: 12, corridors: [structuredClone(first), changed] } });
    expect(s.ingest[first.corridor_key]).toBe(first);
    expect(s.ingest[second.corridor_key].top_failure_reason).toBe('op_no_trust');
    // An answer to a request started before the one shown is stale.
    const stale = reduce(s, { type: 'ingest_done', result: { ticket: 11, corridors: [] } });
    expect(stale).toBe(s);
    // So is the ingestion part of a reload that started earlier.
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'load_done', generation: 2, data: data({ ...horizon, ingest: { ticket: 11, corridors: [] } }), at: 2 });
    expect(s.ingest[second.corridor_key].top_failure_reason).toBe('op_no_trust');
  });

  it('says "no price" in the log and leaves the chart volume empty for an unpriced corridor, also for lines written before the details came', () => {
    const unpriced = INGEST.find((r) => r.window_24h.unpriced > 0 && r.window_24h.unpriced >= r.window_24h.successes)!;
    const priced = INGEST.find((r) => r.window_24h.unpriced === 0)!;
    const frame = (key: string, volume: number, seq: number): WsMessage => ({ type: 'corridor_update', corridor_id: key, corridor_key: key, success_rate: 100, volume_usd: volume, total_transactions: 1, seq });
    // Before the details are known: the frame's $0 is all there is.
    let s = reduce(initialDashboard, { type: 'message', message: frame(unpriced.corridor_key, 0, 1), at: 10 });
    expect(s.log[0].text).toMatch(/, \$0$/);
    expect(s.history[unpriced.corridor_key][0].volume).toBe(0);
    s = reduce(s, { type: 'ingest_done', result: { ticket: 1, corridors: INGEST } });
    expect(s.log[0].text).toMatch(/, no price$/);
    expect(s.history[unpriced.corridor_key].map((p) => p.volume)).toEqual([null]);
    // Once known, new frames are described and charted that way at once; a priced corridor keeps its dollars.
    s = reduce(s, { type: 'message', message: frame(unpriced.corridor_key, 0, 2), at: 20 });
    s = reduce(s, { type: 'message', message: frame(priced.corridor_key, 10, 3), at: 30 });
    expect(s.log.map((e) => e.text.split(', ').pop())).toEqual(['$10', 'no price', 'no price']);
    expect(s.history[unpriced.corridor_key].map((p) => p.volume)).toEqual([null, null]);
    expect(s.history[priced.corridor_key].map((p) => p.volume)).toEqual([10]);
  });

  it('drops the details when a reload finds a source that is not Horizon', () => {
    let s = loaded(horizon);
    s = reduce(s, { type: 'load_start', generation: 2 });
    s = reduce(s, { type: 'load_done', generation: 2, data: data({ health: { source: 'rest' } }), at: 2 });
    expect(s.ingest).toEqual({});
    expect(s.source).toBe('rest');
  });
});

describe('message text', () => {
  it('summarises each message type in plain text', () => {
    expect(describeMessage({ type: 'connected', connection_id: 'c-1', resumed: true, seq: 7 })).toBe('connection c-1 resumed at seq 7');
    expect(describeMessage({ type: 'resync_required', reason: 'pruned' })).toContain('(pruned)');
    expect(describeMessage({ type: 'error', code: 'rate_limited', message: 'slow down' })).toBe('rate_limited: slow down');
    expect(describeMessage(corridorUpdate(97.123))).toBe('USDC:GA → EURC:GB: 97.12% of 41 tx, $2,000');
  });

  it('shortens a Stellar account to its first 5 and last 4 characters, and both issuers of a corridor key', () => {
    const account = 'GABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVW';
    expect(shortAccount(account)).toBe('GABCD…TUVW');
    expect(shortKey(`USDC:${account}->EURC:${account}`)).toBe('USDC:GABCD…TUVW → EURC:GABCD…TUVW');
  });
});
