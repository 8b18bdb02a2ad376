import type { LiveState } from 'stellar-insights-ws';
import { anchorRows, anchorsWithoutAccount, corridorRows } from './liveRows';

const corridor = (key: string, rate: number, seq: number) => ({
  type: 'corridor_update' as const, corridor_id: `id-${key}`, corridor_key: key, success_rate: rate, volume_usd: 10, total_transactions: 3, seq,
});
const anchor = (id: string, name: string, score: number) => ({
  type: 'anchor_update' as const, anchor_id: id, name, reliability_score: score, status: 'green' as const, seq: 1,
});

describe('corridorRows', () => {
  it('orders by corridor_key, flashes nothing on the first fill, keeps unchanged rows and counts changes', () => {
    const first = corridorRows({ B: corridor('B', 1, 5), A: corridor('A', 2, 5) } as LiveState['corridors'], []);
    expect(first.map((r) => [r.corridor_key, r.flash])).toEqual([['A', 0], ['B', 0]]);
    const next = corridorRows({ A: corridor('A', 2, 5), B: corridor('B', 9, 6), C: corridor('C', 1, 7) } as LiveState['corridors'], first);
    expect(next[0]).toBe(first[0]);
    expect(next[1]).toMatchObject({ corridor_key: 'B', success_rate: 9, flash: 1 });
    expect(next[2]).toMatchObject({ corridor_key: 'C', flash: 1 });
  });
});

describe('anchorRows', () => {
  it('orders by name then id, adds the REST account and flashes only on a changed value', () => {
    const live = { y: anchor('y', 'Beta', 1), x: anchor('x', 'Alpha', 2) } as LiveState['anchors'];
    const first = anchorRows(live, { x: 'GX' }, []);
    expect(first.map((r) => [r.id, r.stellar_account, r.flash])).toEqual([['x', 'GX', 0], ['y', undefined, 0]]);
    const withAccount = anchorRows(live, { x: 'GX', y: 'GY' }, first);
    expect(withAccount[0]).toBe(first[0]);
    expect(withAccount[1]).toMatchObject({ stellar_account: 'GY', flash: 0 });
    const changed = anchorRows({ ...live, y: anchor('y', 'Beta', 50) } as LiveState['anchors'], { x: 'GX', y: 'GY' }, withAccount);
    expect(changed[1]).toMatchObject({ reliability_score: 50, flash: 1 });
  });
});

describe('anchorsWithoutAccount', () => {
  it('lists the live anchors whose account REST has not given, sorted', () => {
    const live = { y: anchor('y', 'Beta', 1), x: anchor('x', 'Alpha', 2), z: anchor('z', 'Gamma', 3) } as LiveState['anchors'];
    expect(anchorsWithoutAccount(live, { x: 'GX' })).toEqual(['y', 'z']);
    expect(anchorsWithoutAccount(live, { x: 'GX', y: 'GY', z: 'GZ' })).toEqual([]);
    expect(anchorsWithoutAccount({} as LiveState['anchors'], {})).toEqual([]);
  });
});
