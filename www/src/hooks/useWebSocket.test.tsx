import { StrictMode, useState } from 'react';
import { act, render, renderHook } from '@testing-library/react';
import type { WsMessage } from 'stellar-insights-ws';
import { FakeRealtime } from '@/test/fakeRealtime';

const env = vi.hoisted(() => ({ fake: undefined as unknown as FakeRealtime, fail: undefined as Error | undefined }));

vi.mock('@/lib/realtime', () => ({
  loadRealtime: () => (env.fail ? Promise.reject(env.fail) : Promise.resolve(env.fake.api())),
  defaultClientOptions: () => ({ port: 8080 }),
}));

import { useAnchorUpdates, useCorridorUpdates, useWebSocket, type UseWebSocketOptions } from './useWebSocket';

// Lets the load promise, deferred releases and one animation frame run.
const settle = () => act(() => new Promise<void>((r) => setTimeout(r, 40)));

const corridor = (key: string, n: number): WsMessage => ({
  type: 'corridor_update', corridor_id: `c-${key}`, corridor_key: key, success_rate: 99, volume_usd: n, total_transactions: n, seq: n,
});
const anchor = (id: string): WsMessage => ({ type: 'anchor_update', anchor_id: id, name: id, reliability_score: 90, status: 'green' });

beforeEach(() => {
  env.fake = new FakeRealtime();
  env.fail = undefined;
});

describe('useWebSocket', () => {
  it('opens one socket under StrictMode double mount and closes it on unmount', async () => {
    function Probe() {
      useWebSocket();
      return null;
    }
    const view = render(<StrictMode><Probe /></StrictMode>);
    await settle();
    expect(env.fake.socketsOpened).toBe(1);
    expect(env.fake.refcount).toBe(1);
    view.unmount();
    await settle();
    expect(env.fake.refcount).toBe(0);
    expect(env.fake.socketsOpened).toBe(1);
  });

  it('keeps the socket for the other component when one unmounts', async () => {
    function Two() {
      const [showB, setShowB] = useState(true);
      const a = useWebSocket();
      (globalThis as Record<string, unknown>).hideB = () => setShowB(false);
      return <>{a.isConnected ? 'A connected' : 'A down'}{showB && <B />}</>;
    }
    function B() {
      useWebSocket();
      return null;
    }
    const view = render(<Two />);
    await settle();
    expect(env.fake.refcount).toBe(2);
    act(() => ((globalThis as Record<string, unknown>).hideB as () => void)());
    await settle();
    expect(env.fake.refcount).toBe(1);
    expect(view.container.textContent).toBe('A connected');
  });

  it('reports connection state, id and attempt from the client status', async () => {
    const { result } = renderHook(() => useWebSocket());
    await settle();
    expect(result.current.isConnected).toBe(true);
    expect(result.current.connectionId).toBe('conn-1');
    act(() => env.fake.setStatus({ state: 'reconnecting', attempt: 2, delayMs: 1500, nextAttemptAt: 1 }));
    await settle();
    expect(result.current.isConnected).toBe(false);
    expect(result.current.connectionId).toBeNull();
    expect(result.current.status.state).toBe('reconnecting');
    expect(result.current.reconnectAttempt).toBe(2);
  });

  it('calls the newest inline callback without resubscribing', async () => {
    const seen: string[] = [];
    const { rerender } = renderHook(({ tag }: { tag: string }) => useWebSocket({ onMessage: (m) => seen.push(`${tag}:${m.type}`) }), {
      initialProps: { tag: 'first' },
    });
    await settle();
    const subscriptions = env.fake.activeSubscriptions();
    rerender({ tag: 'second' });
    rerender({ tag: 'third' });
    await settle();
    expect(env.fake.activeSubscriptions()).toBe(subscriptions);
    act(() => env.fake.emit(anchor('a1')));
    expect(seen).toEqual(['third:anchor_update']);
  });

  it('renders at most once per frame under a burst yet delivers every message', async () => {
    let renders = 0;
    const delivered: number[] = [];
    const { result } = renderHook(() => {
      renders++;
      return useWebSocket({ onMessage: (m) => m.type === 'corridor_update' && delivered.push(m.total_transactions) });
    });
    await settle();
    const before = renders;
    act(() => {
      for (let i = 1; i <= 500; i++) env.fake.emit(corridor('K', i));
    });
    await settle();
    expect(delivered).toHaveLength(500);
    expect(renders - before).toBe(1);
    expect(result.current.lastMessage).toEqual(corridor('K', 500));
  });

  it('passes only the requested message types and keys', async () => {
    const seen: WsMessage[] = [];
    renderHook(() => useWebSocket({ messageTypes: ['corridor_update'], corridorKeys: ['A'], onMessage: (m) => seen.push(m) }));
    await settle();
    act(() => {
      env.fake.emit(anchor('x'));
      env.fake.emit(corridor('B', 1));
      env.fake.emit(corridor('A', 2));
    });
    expect(seen).toEqual([corridor('A', 2)]);
  });

  it('fires onConnect and onDisconnect on state transitions, onResync and onError as forwarded', async () => {
    const events: string[] = [];
    const options: UseWebSocketOptions = {
      onConnect: () => events.push('connect'),
      onDisconnect: () => events.push('disconnect'),
      onResync: (e) => events.push(`resync:${e.reason}`),
      onError: (e) => events.push(`error:${e.code}`),
    };
    renderHook(() => useWebSocket(options));
    await settle();
    act(() => env.fake.setStatus({ state: 'open', attempt: 0, connectionId: 'c' }));
    act(() => env.fake.setStatus({ state: 'reconnecting', attempt: 1 }));
    act(() => env.fake.setStatus({ state: 'open', attempt: 0, connectionId: 'd' }));
    act(() => env.fake.emitResync({ reason: 'pruned' }));
    act(() => env.fake.emitError({ code: 'malformed_frame', message: 'x' }));
    // The first 'connect' is the mount's own acquire opening the socket; the
    // repeated 'open' status is not a new connection.
    expect(events).toEqual(['connect', 'disconnect', 'connect', 'resync:pruned', 'error:malformed_frame']);
  });

  it('tells a hook mounted on an already open socket that it is connected, once', async () => {
    renderHook(() => useWebSocket());
    await settle();
    const connects: string[] = [];
    renderHook(() => useWebSocket({ onConnect: () => connects.push('second') }), { wrapper: StrictMode });
    await settle();
    expect(connects).toEqual(['second']);
    expect(env.fake.socketsOpened).toBe(1);
  });

  it('does not connect on mount with autoConnect false, and connect() takes a reference', async () => {
    const { result, unmount } = renderHook(() => useWebSocket({ autoConnect: false }));
    await settle();
    expect(env.fake.acquires).toBe(0);
    act(() => result.current.connect());
    await settle();
    expect(env.fake.refcount).toBe(1);
    expect(env.fake.calls).toContain('connect');
    unmount();
    await settle();
    expect(env.fake.refcount).toBe(0);
  });

  it('forwards ping and disconnect to the shared client', async () => {
    const { result } = renderHook(() => useWebSocket());
    await settle();
    act(() => {
      result.current.ping();
      result.current.disconnect();
    });
    await settle();
    expect(env.fake.calls).toEqual(['ping', 'disconnect']);
  });

  it('configures the shared client when the hook sets connection options', async () => {
    renderHook(() => useWebSocket({ token: 'tok', maxReconnectAttempts: null }));
    await settle();
    expect(env.fake.configured).toEqual([{ port: 8080, token: 'tok', maxReconnectAttempts: null }]);
  });

  it('leaves the shared client configuration alone when the hook sets no connection options', async () => {
    renderHook(() => useWebSocket({ onMessage: () => undefined, messageTypes: ['anchor_update'] }));
    await settle();
    expect(env.fake.configured).toEqual([]);
    expect(env.fake.refcount).toBe(1);
  });

  it('passes maxReconnectAttempts Infinity as unlimited (null)', async () => {
    renderHook(() => useWebSocket({ maxReconnectAttempts: Infinity }));
    await settle();
    expect(env.fake.configured).toEqual([{ port: 8080, maxReconnectAttempts: null }]);
  });

  it('reports bad connection options as invalid_options and does not connect', async () => {
    const errors: unknown[] = [];
    const { result } = renderHook(() => useWebSocket({ reconnectInterval: -5, onError: (e) => errors.push(e) }));
    await settle();
    expect(errors).toEqual([{ code: 'invalid_options', message: 'reconnectInterval must be a positive number of ms, got -5' }]);
    expect(result.current.loadFailed).toBe(true);
    expect(env.fake.acquires).toBe(0);
  });

  it('reports a failed wasm load through onError with code load_failed', async () => {
    env.fail = new Error('wasm 404');
    const errors: unknown[] = [];
    renderHook(() => useWebSocket({ onError: (e) => errors.push(e) }));
    await settle();
    expect(errors).toContainEqual({ code: 'load_failed', message: 'wasm 404' });
  });

  it('shows a failed load and tries the load again on connect()', async () => {
    env.fail = new Error('wasm 404');
    const { result } = renderHook(() => useWebSocket());
    await settle();
    expect(result.current.loadFailed).toBe(true);
    expect(result.current.error).toEqual({ code: 'load_failed', message: 'wasm 404' });
    env.fail = undefined;
    act(() => result.current.connect());
    await settle();
    expect(result.current.loadFailed).toBe(false);
    expect(result.current.isConnected).toBe(true);
    expect(env.fake.refcount).toBe(1);
  });
});

describe('typed update hooks', () => {
  it('useCorridorUpdates receives corridor updates only, typed, filtered by key', async () => {
    const keys: string[] = [];
    renderHook(() => useCorridorUpdates((u) => keys.push(u.corridor_key), { corridorKeys: ['A', 'B'] }));
    await settle();
    act(() => {
      env.fake.emit(anchor('a'));
      env.fake.emit(corridor('A', 1));
      env.fake.emit(corridor('C', 2));
      env.fake.emit(corridor('B', 3));
    });
    expect(keys).toEqual(['A', 'B']);
  });

  it('useAnchorUpdates receives anchor updates only', async () => {
    const ids: string[] = [];
    renderHook(() => useAnchorUpdates((u) => ids.push(u.anchor_id)));
    await settle();
    act(() => {
      env.fake.emit(corridor('A', 1));
      env.fake.emit(anchor('a9'));
    });
    expect(ids).toEqual(['a9']);
  });
});
