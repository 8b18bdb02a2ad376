// Table rows from the client's keyed state (the state hooks): the corridors
// and anchors the server sent on subscribe, kept current by the client.
// Pure, so the rules are unit-tested: a row whose record did not change
// keeps its object (its memoised view skips rendering); a changed one counts
// a flash.
import type { LiveState } from 'stellar-insights-ws';
import type { AnchorRow, CorridorRow } from './dashboard';

/**
 * Corridor rows in `corridor_key` order (the order of `GET /api/corridors`).
 * `previous` are the rows shown before (empty on the first fill, which
 * flashes nothing).
 */
export function corridorRows(corridors: LiveState['corridors'], previous: readonly CorridorRow[]): CorridorRow[] {
  const before = new Map(previous.map((row) => [row.corridor_key, row]));
  const first = previous.length === 0;
  return Object.values(corridors)
    .sort((a, b) => (a.corridor_key < b.corridor_key ? -1 : a.corridor_key > b.corridor_key ? 1 : 0))
    .map((c) => {
      const old = before.get(c.corridor_key);
      if (old && old.success_rate === c.success_rate && old.volume_usd === c.volume_usd && old.total_transactions === c.total_transactions && old.id === c.corridor_id) return old;
      return {
        id: c.corridor_id,
        corridor_key: c.corridor_key,
        success_rate: c.success_rate,
        volume_usd: c.volume_usd,
        total_transactions: c.total_transactions,
        flash: old ? old.flash + 1 : first ? 0 : 1,
      };
    });
}

/**
 * Anchor rows by name, then id (the order of `GET /api/anchors`), with the
 * accounts read through REST (`accounts`; a live record does not carry one).
 */
export function anchorRows(anchors: LiveState['anchors'], accounts: Record<string, string>, previous: readonly AnchorRow[]): AnchorRow[] {
  const before = new Map(previous.map((row) => [row.id, row]));
  const first = previous.length === 0;
  return Object.values(anchors)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.anchor_id < b.anchor_id ? -1 : a.anchor_id > b.anchor_id ? 1 : 0))
    .map((a) => {
      const old = before.get(a.anchor_id);
      const account = accounts[a.anchor_id];
      if (old && old.name === a.name && old.reliability_score === a.reliability_score && old.status === a.status && old.stellar_account === account) return old;
      const changed = old !== undefined && (old.name !== a.name || old.reliability_score !== a.reliability_score || old.status !== a.status);
      return {
        id: a.anchor_id,
        name: a.name,
        stellar_account: account,
        reliability_score: a.reliability_score,
        status: a.status,
        flash: old ? old.flash + (changed ? 1 : 0) : first ? 0 : 1,
      };
    });
}

/**
 * Ids of live anchors whose account is not known yet, sorted: an anchor the
 * state answer or a live update brought after the REST list was read (a
 * live record does not carry the account). The page reads each once.
 */
export function anchorsWithoutAccount(anchors: LiveState['anchors'], accounts: Record<string, string>): string[] {
  return Object.values(anchors)
    .filter((a) => accounts[a.anchor_id] === undefined)
    .map((a) => a.anchor_id)
    .sort();
}
