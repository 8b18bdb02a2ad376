import { StrictMode, useState } from 'react';
import { act, render, renderHook } from '@testing-library/react';
import type { WsMessage } from '../src/stellar_insights_ws.js';
import type { FakeClient } from './fake';
import { freshPackage } from './setup';

let fake: FakeClient;
let hooks: Awaited<ReturnType<typeof freshPackage>>['react'];
let client: Awaited<ReturnType<typeof freshPackage>>['client'];

// Lets the load promise, the client's linger and one animation frame run.
const settle = () => act(() => new Promise<void>((r) => setTimeout(r, 40)));

const corridor = (key: string, n: number): WsMessage => ({
  type: 'corridor_update', corridor_id: `c-${key}`, corridor_key: key, success_rate: 99, volume_usd: n, total_transactions: n, seq: n,
});
const anchor = (id: string): WsMessage => ({ type: 'anchor_update', anchor_id: id, name: id, reliability_score: 90, status: 'green' });

beforeEach(async () => {
  ({ fake, react: hooks, client } = await freshPackage());
});

describe('useWebSocket', () => {
  it('opens one socket under StrictMode double mount and closes it on unmount', async () => {
    function Probe() {
      hooks.useWebSocket();
      return null;
    }
    const view = render(<StrictMode><Probe /></StrictMode>);
    await settle();
    expect(fake.socketsOpened).toBe(1);
    expect(fake.refcount).toBe(1);
    view.unmount();
    await settle();
    expect(fake.refcount).toBe(0);
    expect(fake.socketsOpened).toBe(1);
  });

  it('keeps the socket over a StrictMode remount after the client has loaded (release and acquire in one task)', async () => {
    renderHook(() => hooks.useWebSocket());
    await settle();
    function Probe() {
      hooks.useWebSocket();
      return null;
    }
    render(<StrictMode><Probe /></StrictMode>);
    await settle();
    expect(fake.refcount).toBe(2);
    expect(fake.socketsOpened).toBe(1);
  });

  it('keeps the socket for the other component when one unmounts', async () => {
    let hideB = () => undefined as void;
    function Two() {
      const [showB, setShowB] = useState(true);
      const a = hooks.useWebSocket();
      hideB = () => setShowB(false);
      return <>{a.isConnected ? 'A connected' : 'A down'}{showB && <B />}</>;
    }
    function B() {
      hooks.useWebSocket();
      return null;
    }
    const view = render(<Two />);
    await settle();
    expect(fake.refcount).toBe(2);
    act(() => hideB());
    await settle();
    expect(fake.refcount).toBe(1);
    expect(view.container.textContent).toBe('A connected');
  });

  it('reports connection state, id and attempt from the client status', async () => {
    const { result } = renderHook(() => hooks.useWebSocket());
    await settle();
    expect(result.current.isConnected).toBe(true);
    expect(result.current.connectionId).toBe('conn-1');
    act(() => fake.setStatus({ state: 'reconnecting', attempt: 2, delayMs: 1500, nextAttemptAt: 1 }));
    await settle();
    expect(result.current.isConnected).toBe(false);
    expect(result.current.connectionId).toBeNull();
    expect(result.current.status.state).toBe('reconnecting');
    expect(result.current.reconnectAttempt).toBe(2);
  });

  it('calls the newest inline callback without resubscribing', async () => {
    const seen: string[] = [];
    const { rerender } = renderHook(({ tag }: { tag: string }) => hooks.useWebSocket({ onMessage: (m) => seen.push(`${tag}:${m.type}`) }), {
      initialProps: { tag: 'first' },
    });
    await settle();
    const subscriptions = fake.activeSubscriptions();
    rerender({ tag: 'second' });
    rerender({ tag: 'third' });
    await settle();
    expect(fake.activeSubscriptions()).toBe(subscriptions);
    act(() => fake.emit(anchor('a1')));
    expect(seen).toEqual(['third:anchor_update']);
  });

  it('keeps its subscription when inline filter arrays are new each render but equal', async () => {
    const { rerender } = renderHook(({ keys }: { keys: string[] }) => hooks.useWebSocket({ messageTypes: ['corridor_update'], corridorKeys: keys }), {
      initialProps: { keys: ['B', 'A'] },
    });
    await settle();
    rerender({ keys: ['A', 'B'] });
    await settle();
    expect(fake.activeFilters()).toEqual([{ types: ['corridor_update'], corridorKeys: ['A', 'B'] }]);
    rerender({ keys: ['A'] });
    await settle();
    expect(fake.activeFilters()).toEqual([{ types: ['corridor_update'], corridorKeys: ['A'] }]);
  });

  it('renders at most once per frame under a burst yet delivers every message', async () => {
    let renders = 0;
    const delivered: number[] = [];
    const { result } = renderHook(() => {
      renders++;
      return hooks.useWebSocket({ onMessage: (m) => void (m.type === 'corridor_update' && delivered.push(m.total_transactions)) });
    });
    await settle();
    const before = renders;
    act(() => {
      for (let i = 1; i <= 500; i++) fake.emit(corridor('K', i));
    });
    await settle();
    expect(delivered).toHaveLength(500);
    expect(renders - before).toBe(1);
    expect(result.current.lastMessage).toEqual(corridor('K', 500));
  });

  it('without messageTypes passes every frame the old layer did, ping, pong, connected and error included', async () => {
    const seen: string[] = [];
    renderHook(() => hooks.useWebSocket({ onMessage: (m) => seen.push(m.type) }));
    await settle();
    act(() => {
      fake.emit({ type: 'connected', connection_id: 'c' });
      fake.emit({ type: 'ping', timestamp: 1 });
      fake.emit({ type: 'pong', timestamp: 2 });
      fake.emit({ type: 'error', message: 'bad' });
      fake.emit(anchor('a'));
      fake.emit({ type: 'resync_required', reason: 'pruned' });
    });
    expect(seen).toEqual(['connected', 'ping', 'pong', 'error', 'anchor_update']);
  });

  it('passes only the requested message types and keys, and shares one subscription per filter', async () => {
    const seen: WsMessage[] = [];
    renderHook(() => hooks.useWebSocket({ messageTypes: ['corridor_update'], corridorKeys: ['A'], onMessage: (m) => seen.push(m) }));
    renderHook(() => hooks.useWebSocket({ corridorKeys: ['A'], messageTypes: ['corridor_update'] }));
    await settle();
    expect(fake.activeSubscriptions()).toBe(1);
    act(() => {
      fake.emit(anchor('x'));
      fake.emit(corridor('B', 1));
      fake.emit(corridor('A', 2));
    });
    expect(seen).toEqual([corridor('A', 2)]);
  });

  it('fires onConnect and onDisconnect on state transitions, onResync, and onError with the message first', async () => {
    const events: string[] = [];
    renderHook(() =>
      hooks.useWebSocket({
        onConnect: () => events.push('connect'),
        onDisconnect: () => events.push('disconnect'),
        onResync: (e) => events.push(`resync:${e.reason}`),
        onError: (message: string, error) => events.push(`error:${message}:${error.code}`),
      }),
    );
    await settle();
    act(() => fake.setStatus({ state: 'open', attempt: 0, connectionId: 'c' }));
    act(() => fake.setStatus({ state: 'reconnecting', attempt: 1 }));
    act(() => fake.setStatus({ state: 'open', attempt: 0, connectionId: 'd' }));
    act(() => fake.emitResync({ reason: 'pruned' }));
    act(() => fake.emitError({ code: 'malformed_frame', message: 'x' }));
    expect(events).toEqual(['connect', 'disconnect', 'connect', 'resync:pruned', 'error:x:malformed_frame']);
  });

  it('accepts an old-style onError typed (error: string) => void', async () => {
    const messages: string[] = [];
    const onError: (error: string) => void = (e) => messages.push(e);
    renderHook(() => hooks.useWebSocket({ onError }));
    await settle();
    act(() => fake.emitError({ code: 'server_error', message: 'rate limited' }));
    expect(messages).toEqual(['rate limited']);
  });

  it('tells a hook mounted on an already open socket that it is connected, once', async () => {
    renderHook(() => hooks.useWebSocket());
    await settle();
    const connects: string[] = [];
    renderHook(() => hooks.useWebSocket({ onConnect: () => connects.push('second') }), { wrapper: StrictMode });
    await settle();
    expect(connects).toEqual(['second']);
    expect(fake.socketsOpened).toBe(1);
  });

  it('does not connect on mount with autoConnect false, and connect() takes a reference', async () => {
    const { result, unmount } = renderHook(() => hooks.useWebSocket({ autoConnect: false }));
    await settle();
    expect(fake.acquires).toBe(0);
    act(() => result.current.connect());
    await settle();
    expect(fake.refcount).toBe(1);
    expect(fake.calls).toContain('connect');
    unmount();
    await settle();
    expect(fake.refcount).toBe(0);
  });

  it('forwards ping and disconnect to the shared client', async () => {
    const { result } = renderHook(() => hooks.useWebSocket());
    await settle();
    act(() => {
      result.current.ping();
      result.current.disconnect();
    });
    await settle();
    expect(fake.calls).toEqual(['ping', 'disconnect']);
  });

  it('configures the client once from the environment and page options, then with what a hook sets', async () => {
    client.setPageOptions({ sameOrigin: true });
    renderHook(() => hooks.useWebSocket({ token: 'tok', maxReconnectAttempts: Infinity }));
    await settle();
    expect(fake.inits).toEqual([{ module_or_path: '/test.wasm' }]);
    expect(fake.configured.at(-1)).toEqual({ sameOrigin: true, token: 'tok', maxReconnectAttempts: null });
  });

  it('passes NEXT_PUBLIC_WS_URL, NEXT_PUBLIC_WS_PORT and NEXT_PUBLIC_WS_TOKEN to the client as given', async () => {
    vi.stubEnv('NEXT_PUBLIC_WS_PORT', '9001');
    vi.stubEnv('NEXT_PUBLIC_WS_URL', 'ws://h:1/ws');
    vi.stubEnv('NEXT_PUBLIC_WS_TOKEN', 's3cret');
    try {
      renderHook(() => hooks.useWebSocket());
      await settle();
      expect(fake.configured).toEqual([{ envUrl: 'ws://h:1/ws', envPort: 9001, token: 's3cret' }]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('leaves the configuration alone when no hook sets connection options', async () => {
    renderHook(() => hooks.useWebSocket({ onMessage: () => undefined, messageTypes: ['anchor_update'] }));
    await settle();
    expect(fake.configured).toEqual([{}]);
    expect(fake.refcount).toBe(1);
  });

  it('refuses a second hook asking for a different URL, and never shows a token', async () => {
    renderHook(() => hooks.useWebSocket({ url: 'ws://a:1/ws', token: 'first-secret' }));
    await settle();
    const errors: string[] = [];
    const { result } = renderHook(() => hooks.useWebSocket({ url: 'ws://b:2/ws', onError: (m) => errors.push(m) }));
    renderHook(() => hooks.useWebSocket({ token: 'second-secret', onError: (m) => errors.push(m) }));
    await settle();
    expect(errors[0]).toBe(`two consumers of the page's one socket ask for different url: "ws://a:1/ws" and "ws://b:2/ws"; set connection options once per page`);
    expect(errors.join(' ')).toContain('two different tokens');
    expect(errors.join(' ')).not.toContain('secret');
    expect(result.current.error?.code).toBe('invalid_options');
    expect(fake.refcount).toBe(1);
    expect(fake.configured.at(-1)).toEqual({ url: 'ws://a:1/ws', token: 'first-secret' });
  });

  it('lets another URL be set once the hook that held the first has unmounted', async () => {
    const first = renderHook(() => hooks.useWebSocket({ url: 'ws://a:1/ws' }));
    await settle();
    first.unmount();
    expect(fake.configured.at(-1)).toEqual({});
    renderHook(() => hooks.useWebSocket({ url: 'ws://b:2/ws' }));
    await settle();
    expect(fake.configured.at(-1)).toEqual({ url: 'ws://b:2/ws' });
  });

  it('reports options the client refuses as invalid_options and does not connect', async () => {
    fake.refuse = 'reconnectInterval must be a whole number from 0 to 86400000';
    const errors: unknown[] = [];
    const { result } = renderHook(() => hooks.useWebSocket({ reconnectInterval: -5, onError: (_m, e) => errors.push(e) }));
    await settle();
    expect(errors).toEqual([{ code: 'invalid_options', message: 'reconnectInterval must be a whole number from 0 to 86400000' }]);
    expect(result.current.loadFailed).toBe(true);
    expect(fake.acquires).toBe(0);
  });

  it('reports a failed wasm load with code load_failed, then connect() loads again', async () => {
    let fail = true;
    client.setLoader({
      importModule: async () => {
        if (fail) throw new Error('wasm 404');
        return fake.module();
      },
    });
    const errors: unknown[] = [];
    const { result } = renderHook(() => hooks.useWebSocket({ onError: (_m, e) => errors.push(e) }));
    await settle();
    expect(errors).toContainEqual({ code: 'load_failed', message: 'wasm 404' });
    expect(result.current.loadFailed).toBe(true);
    expect(result.current.error).toEqual({ code: 'load_failed', message: 'wasm 404' });
    fail = false;
    act(() => result.current.connect());
    await settle();
    expect(result.current.loadFailed).toBe(false);
    expect(result.current.isConnected).toBe(true);
    expect(fake.refcount).toBe(1);
  });
});

describe('typed update hooks', () => {
  it('useCorridorUpdates receives corridor updates only, typed, filtered by key', async () => {
    const keys: string[] = [];
    renderHook(() => hooks.useCorridorUpdates((u) => keys.push(u.corridor_key), { corridorKeys: ['A', 'B'] }));
    await settle();
    act(() => {
      fake.emit(anchor('a'));
      fake.emit(corridor('A', 1));
      fake.emit(corridor('C', 2));
      fake.emit(corridor('B', 3));
    });
    expect(keys).toEqual(['A', 'B']);
  });

  it('useAnchorUpdates and useSnapshotUpdates receive their own type only', async () => {
    const seen: string[] = [];
    renderHook(() => hooks.useAnchorUpdates((u) => seen.push(u.anchor_id)));
    renderHook(() => hooks.useSnapshotUpdates((u) => seen.push(u.snapshot_id)));
    await settle();
    act(() => {
      fake.emit(corridor('A', 1));
      fake.emit(anchor('a9'));
      fake.emit({ type: 'snapshot_update', snapshot_id: 's1', epoch: 1, timestamp: 't', hash: 'h' });
    });
    expect(seen).toEqual(['a9', 's1']);
  });
});
