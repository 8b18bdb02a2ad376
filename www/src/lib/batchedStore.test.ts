import { BatchedStore, frameBatcher } from './batchedStore';

function manualScheduler() {
  const queue: (() => void)[] = [];
  return { schedule: (f: () => void) => void queue.push(f), runFrame: () => queue.splice(0).forEach((f) => f()), queue };
}

describe('BatchedStore', () => {
  it('notifies once per frame however many updates arrive', () => {
    const frames = manualScheduler();
    const store = new BatchedStore(0, frames.schedule);
    let notified = 0;
    store.subscribe(() => notified++);
    for (let i = 0; i < 1000; i++) store.update((n) => n + 1);
    expect(frames.queue).toHaveLength(1);
    expect(notified).toBe(0);
    frames.runFrame();
    expect(notified).toBe(1);
    expect(store.get()).toBe(1000);
  });

  it('keeps get() stable until the frame flushes, while latest() sees the change', () => {
    const frames = manualScheduler();
    const store = new BatchedStore({ n: 0 }, frames.schedule);
    const before = store.get();
    store.set({ n: 1 });
    expect(store.get()).toBe(before);
    expect(store.latest()).toEqual({ n: 1 });
    frames.runFrame();
    expect(store.get()).toEqual({ n: 1 });
  });

  it('does not notify when the value ends the frame unchanged', () => {
    const frames = manualScheduler();
    const initial = { n: 0 };
    const store = new BatchedStore(initial, frames.schedule);
    let notified = 0;
    store.subscribe(() => notified++);
    store.set({ n: 1 });
    store.set(initial);
    frames.runFrame();
    expect(notified).toBe(0);
  });

  it('stops notifying a listener after it unsubscribes', () => {
    const frames = manualScheduler();
    const store = new BatchedStore(0, frames.schedule);
    let notified = 0;
    const unsubscribe = store.subscribe(() => notified++);
    unsubscribe();
    store.set(1);
    frames.runFrame();
    expect(notified).toBe(0);
  });
});

describe('frameBatcher', () => {
  it('flushes every store updated in a frame from one callback, so React commits once', () => {
    const frames = manualScheduler();
    const schedule = frameBatcher(frames.schedule);
    const a = new BatchedStore(0, schedule);
    const b = new BatchedStore(0, schedule);
    const order: string[] = [];
    a.subscribe(() => order.push('a'));
    b.subscribe(() => order.push('b'));
    a.set(1);
    b.set(2);
    a.set(3);
    expect(frames.queue).toHaveLength(1);
    frames.runFrame();
    expect(order).toEqual(['a', 'b']);
    expect([a.get(), b.get()]).toEqual([3, 2]);
    b.set(4);
    expect(frames.queue).toHaveLength(1);
    frames.runFrame();
    expect(order).toEqual(['a', 'b', 'b']);
  });
});
