'use client';
// Wires the dashboard state to REST (initial load, reload on resync) and to
// the live socket. Renders are batched per animation frame like the hooks'.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { getJson, loadDashboard, type Anchor } from '@/lib/api';
import { BatchedStore } from '@/lib/batchedStore';
import { anchorsMissingDetails, initialDashboard, reduce, type DashboardAction } from '@/lib/dashboard';
import { setPageOptions, useWebSocket } from './useWebSocket';

// The export is served by the server that also answers /ws, so the socket
// goes to the page's own origin unless NEXT_PUBLIC_WS_URL / _PORT say
// otherwise. `next dev` runs on a port of its own: there the package's
// default (port 8080 on the page's host) stays.
setPageOptions({ sameOrigin: process.env.NODE_ENV !== 'development' });

export function useDashboard() {
  const [store] = useState(() => new BatchedStore(initialDashboard));
  const state = useSyncExternalStore(store.subscribe, store.get, store.get);
  const dispatch = useCallback((action: DashboardAction) => store.update((s) => reduce(s, action)), [store]);

  const generation = useRef(0);
  const reload = useCallback(() => {
    const current = ++generation.current;
    dispatch({ type: 'load_start', generation: current });
    loadDashboard().then(
      (data) => dispatch({ type: 'load_done', generation: current, data, at: Date.now() }),
      (error: unknown) => dispatch({ type: 'load_failed', generation: current, message: error instanceof Error ? error.message : String(error) }),
    );
  }, [dispatch]);

  useEffect(() => reload(), [reload]);

  const connection = useWebSocket({
    // Everything but the heartbeat's ping/pong, which the log does not show.
    messageTypes: ['connected', 'snapshot_update', 'corridor_update', 'anchor_update', 'error'],
    onMessage: (message) => {
      dispatch({ type: 'message', message, at: Date.now() });
      // A fresh (not resumed) connection may have missed what was written
      // between our last REST read and the socket opening: read again. Live
      // updates arriving meanwhile are replayed on top of the result.
      if (message.type === 'connected' && !message.resumed) reload();
    },
    // resync_required reaches onResync, not onMessage: logged here, then
    // the data is read again.
    onResync: (event) => {
      dispatch({ type: 'message', message: { type: 'resync_required', ...(event.reason ? { reason: event.reason } : {}) }, at: Date.now() });
      reload();
    },
  });

  // Anchors created live arrive without their account: fetch each once.
  const requested = useRef(new Set<string>());
  const missingKey = anchorsMissingDetails(state).join(',');
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

  return { state, connection, reload };
}
