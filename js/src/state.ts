// The page's view of the client's keyed state (state mode): the latest
// record per corridor and anchor and the latest snapshot, as the wasm client
// keeps them (deltas completed, per-key versions). One store for the page;
// the hooks read it through useSyncExternalStore. The client announces each
// change (`onState`); the new state is read at most once per animation
// frame, so a burst of updates renders each hook at most once per frame.
import { attach, enableStateMode, filterKey, lease, loadClient, type Client } from './client.js';
import type { LiveState, MessageType } from './stellar_insights_ws.js';

/** The state before the client has loaded, and during server rendering. */
export const EMPTY_STATE: LiveState = Object.freeze({ corridors: {}, anchors: {}, snapshot: null, synced: false }) as LiveState;

let shown: LiveState = EMPTY_STATE;
let source: Client | undefined;
let attaching = false;
let scheduled = false;
const listeners = new Set<() => void>();

function flush(): void {
  scheduled = false;
  if (!source) return;
  // The same object until the client's state changes.
  const next = source.state();
  if (next === shown) return;
  shown = next;
  for (const listener of [...listeners]) listener();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(flush);
  else setTimeout(flush, 16);
}

function connectStore(): void {
  if (source || attaching) return;
  attaching = true;
  loadClient().then(
    (c) => {
      attaching = false;
      if (source) return;
      source = c;
      c.onState(schedule);
      schedule();
    },
    // The failed load is reported by the lease; the next holder tries again.
    () => {
      attaching = false;
    },
  );
}

/**
 * Holds the keyed state of `types` for as long as the returned function is
 * not called: state mode on, a subscription that keeps their topics
 * subscribed (and their keys in the client's store), a reference on the
 * socket.
 */
export function holdState(types: MessageType[]): () => void {
  enableStateMode();
  const detach = attach(filterKey(types), {});
  const release = lease({});
  connectStore();
  return () => {
    release();
    detach();
  };
}

/** For useSyncExternalStore: called after each change, at most once per frame. */
export function subscribeLiveState(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** The keyed state as of the last frame (the same object between changes). */
export function liveState(): LiveState {
  return shown;
}
