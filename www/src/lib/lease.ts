// Reference-counted use of the one shared client from React effects.
import type { ClientOptions } from 'stellar-insights-ws';
import type { RealtimeApi } from './wasmLoader';

/** Runs `fn` after the current task; by default `setTimeout(fn, 0)`. */
export type Defer = (fn: () => void) => void;

const afterTask: Defer = (fn) => {
  setTimeout(fn, 0);
};

/**
 * Takes a reference on the shared client once it is loaded (`acquire`), and
 * returns the function that gives it back (`release`).
 *
 * The release is deferred by one task: React StrictMode unmounts and remounts
 * an effect synchronously, so the remount acquires before the deferred
 * release runs and the refcount never touches zero; no socket is closed and
 * reopened. A lease given back before the module finished loading never
 * acquires at all.
 */
export function leaseClient(
  load: () => Promise<RealtimeApi>,
  options?: ClientOptions,
  onError?: (error: unknown) => void,
  defer: Defer = afterTask,
): () => void {
  let state: 'pending' | 'held' | 'done' = 'pending';
  let api: RealtimeApi | undefined;
  load().then(
    (loaded) => {
      if (state !== 'pending') return;
      try {
        if (options) loaded.configure(options);
        loaded.acquire();
        api = loaded;
        state = 'held';
      } catch (error) {
        state = 'done';
        onError?.(error);
      }
    },
    (error) => {
      state = 'done';
      onError?.(error);
    },
  );
  return () => {
    if (state === 'held' && api) {
      const held = api;
      defer(() => held.release());
    }
    state = 'done';
  };
}
