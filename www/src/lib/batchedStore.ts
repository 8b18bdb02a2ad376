// A tiny external store for useSyncExternalStore whose change notifications
// are coalesced to one per animation frame: a burst of messages costs each
// subscribed component at most one render per frame.

/** Runs `flush` later, once; by default on the next animation frame. */
export type Scheduler = (flush: () => void) => void;

/**
 * Coalesces flushes into one callback per frame, on `frame` (a
 * requestAnimationFrame-like function). Every store on the page shares one:
 * if each had its own callback, React would commit once per store per frame,
 * since it renders between two callbacks of the same frame.
 */
export function frameBatcher(frame: (run: () => void) => void): Scheduler {
  let queue: (() => void)[] = [];
  const run = () => {
    const flushes = queue;
    queue = [];
    for (const flush of flushes) flush();
  };
  return (flush) => {
    queue.push(flush);
    if (queue.length === 1) frame(run);
  };
}

/** The page's one frame batcher: requestAnimationFrame when there is one (browser), else a 16 ms timeout. */
export const nextFrame: Scheduler = frameBatcher((run) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => run());
  else setTimeout(run, 16);
});

/** External store with frame-batched notifications. */
export class BatchedStore<T> {
  private current: T;
  private pending: T;
  private scheduled = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    initial: T,
    private readonly schedule: Scheduler = nextFrame,
  ) {
    this.current = initial;
    this.pending = initial;
  }

  /** The value as of the last flush: stable between frames, as React requires. */
  readonly get = (): T => this.current;

  /** The newest value, including changes not yet flushed. */
  latest(): T {
    return this.pending;
  }

  /** Replaces the value; listeners hear about it on the next flush. */
  set(next: T): void {
    this.pending = next;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flush);
    }
  }

  /** Applies `fn` to the newest value (so updates in one frame compose). */
  update(fn: (prev: T) => T): void {
    this.set(fn(this.pending));
  }

  /** For useSyncExternalStore. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  private readonly flush = (): void => {
    this.scheduled = false;
    if (Object.is(this.pending, this.current)) return;
    this.current = this.pending;
    for (const listener of [...this.listeners]) listener();
  };
}
