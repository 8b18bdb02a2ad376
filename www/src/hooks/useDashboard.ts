'use client';
// Wires the dashboard state to REST (initial load, reload on resync) and to
// the live socket. The corridor and anchor tables come from the client's
// keyed state (state hooks: current records on every (re)connect, then
// changes), not from REST + replay. Renders are batched per animation frame
// like the hooks'.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { getJson, horizonNetwork, loadDashboard, loadIngest, type Anchor } from '@/lib/api';
import { BatchedStore } from '@/lib/batchedStore';
import { anchorsMissingDetails, initialDashboard, reduce, type AnchorRow, type CorridorRow, type DashboardAction } from '@/lib/dashboard';
import { anchorRows, anchorsWithoutAccount, corridorRows } from '@/lib/liveRows';
import { setPageOptions, useLiveState, useWebSocket } from './useWebSocket';

// The export is served by the server that also answers /ws, so the socket
// goes to the page's own origin unless NEXT_PUBLIC_WS_URL / _PORT say
// otherwise. `next dev` runs on a port of its own: there the package's
// default (port 8080 on the page's host) stays. NEXT_PUBLIC_WS_SHARE_TABS=false
// at build time gives every tab a socket of its own (the package's
// `shareAcrossTabs: false`); by default the tabs share the leader tab's.
setPageOptions({
  sameOrigin: process.env.NODE_ENV !== 'development',
  ...(process.env.NEXT_PUBLIC_WS_SHARE_TABS === 'false' ? { shareAcrossTabs: false } : {}),
});

/**
 * Wait after a live corridor update before reading Horizon ingestion's
 * details again, ms: the server writes all changed corridors of one flush
 * together, so one read covers the burst (at most one read per this delay).
 */
export const INGEST_REFRESH_DELAY_MS = 300;

export function useDashboard() {
  const [store] = useState(() => new BatchedStore(initialDashboard));
  const state = useSyncExternalStore(store.subscribe, store.get, store.get);
  const dispatch = useCallback((action: DashboardAction) => store.update((s) => reduce(s, action)), [store]);

  const generation = useRef(0);
  const horizon = useRef(false);
  const reload = useCallback(() => {
    const current = ++generation.current;
    dispatch({ type: 'load_start', generation: current });
    loadDashboard().then(
      (data) => {
        // Kept apart from the store, whose value may wait for the next frame.
        if (current === generation.current) horizon.current = horizonNetwork(data.health.source) !== undefined;
        dispatch({ type: 'load_done', generation: current, data, at: Date.now() });
      },
      (error: unknown) => dispatch({ type: 'load_failed', generation: current, message: error instanceof Error ? error.message : String(error) }),
    );
  }, [dispatch]);

  useEffect(() => reload(), [reload]);

  // A live corridor update carries the new totals but not the failure reasons
  // or the unpriced count: with Horizon as the source, read those again.
  const ingestTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const refreshIngest = useCallback(() => {
    if (ingestTimer.current !== undefined || !horizon.current) return;
    ingestTimer.current = setTimeout(() => {
      ingestTimer.current = undefined;
      // A failed read keeps the details shown; the next update reads again.
      loadIngest().then((result) => dispatch({ type: 'ingest_done', result }), () => undefined);
    }, INGEST_REFRESH_DELAY_MS);
  }, [dispatch]);
  useEffect(
    () => () => {
      clearTimeout(ingestTimer.current);
      ingestTimer.current = undefined;
    },
    [],
  );

  const connection = useWebSocket({
    // Everything but the heartbeat's ping/pong, which the log does not show.
    messageTypes: ['connected', 'snapshot_update', 'corridor_update', 'anchor_update', 'error'],
    onMessage: (message) => {
      dispatch({ type: 'message', message, at: Date.now() });
      if (message.type === 'corridor_update') refreshIngest();
      // No REST reload on a fresh connection: the tables get the current
      // records from the state answer the client asks for on every connect.
    },
    // resync_required reaches onResync, not onMessage: logged here, then
    // the data is read again.
    onResync: (event) => {
      dispatch({ type: 'message', message: { type: 'resync_required', ...(event.reason ? { reason: event.reason } : {}) }, at: Date.now() });
      reload();
    },
  });

  // The tables, from the keyed state.
  const live = useLiveState();

  // Anchors created live arrive without their account: fetch each once.
  // Those in the keyed state count too once the REST list is read: an
  // anchor created between that read and the state answer reaches this
  // page in the answer only, never as an `anchor_update` message.
  const requested = useRef(new Set<string>());
  const missing = new Set(anchorsMissingDetails(state));
  if (state.loaded) for (const id of anchorsWithoutAccount(live.anchors, state.accounts)) missing.add(id);
  const missingKey = [...missing].sort().join(',');
  useEffect(() => {
    if (missingKey === '') return;
    for (const id of missingKey.split(',')) {
      if (requested.current.has(id)) continue;
      requested.current.add(id);
      getJson<Anchor>(`/api/anchors/${encodeURIComponent(id)}`).then(
        (anchor) => dispatch({ type: 'anchor_details', anchor }),
        () => requested.current.delete(id),
      );
    }
  }, [missingKey, dispatch]);

  // A row keeps its object until its record changes (memoised rows);
  // `previous` is what was shown last.
  const previous = useRef<{ corridors: CorridorRow[]; anchors: AnchorRow[] }>({ corridors: [], anchors: [] });
  const corridors = useMemo(() => corridorRows(live.corridors, previous.current.corridors), [live.corridors]);
  const anchors = useMemo(() => anchorRows(live.anchors, state.accounts, previous.current.anchors), [live.anchors, state.accounts]);
  useEffect(() => {
    previous.current = { corridors, anchors };
  }, [corridors, anchors]);
  const tables = { synced: live.synced, corridors, anchors };

  return { state, connection, reload, tables };
}
