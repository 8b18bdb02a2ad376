import { StrictMode } from 'react';
import { act, render, renderHook } from '@testing-library/react';
import type { LiveState } from '../src/stellar_insights_ws.js';
import type { FakeClient } from './fake';
import { freshPackage } from './setup';

let fake: FakeClient;
let hooks: Awaited<ReturnType<typeof freshPackage>>['react'];

// Lets the load promise, the client's linger and one animation frame run.
const settle = () => act(() => new Promise<void>((r) => setTimeout(r, 40)));

const corridor = (key: string, n: number) => ({
  type: 'corridor_update' as const, corridor_id: `c-${key}`, corridor_key: key, success_rate: 99, volume_usd: n, total_transactions: n, seq: n,
});
const state = (n: number): LiveState => ({
  corridors: { A: corridor('A', n), B: corridor('B', n) },
  anchors: { x: { type: 'anchor_update', anchor_id: 'x', name: 'X', reliability_score: n, status: 'green', seq: n } },
  snapshot: null,
  synced: true,
});

beforeEach(async () => {
  ({ fake, react: hooks } = await freshPackage());
});

describe('state hooks', () => {
  it('turn state mode on for the page and keep the corridor and anchor topics subscribed', async () => {
    renderHook(() => hooks.useCorridors());
    await settle();
    expect(fake.configured.at(-1)?.state).toBe(true);
    expect(fake.refcount).toBe(1);
    expect(fake.activeFilters()).toContainEqual({ types: ['corridor_update'] });
  });

  it('return the client state and render at most once per frame for a burst of changes', async () => {
    let renders = 0;
    let seen: LiveState['corridors'] = {};
    function Table() {
      renders++;
      seen = hooks.useCorridors();
      return null;
    }
    render(<Table />);
    await settle();
    const before = renders;
    act(() => {
      for (let n = 1; n <= 200; n++) fake.setLiveState(state(n));
    });
    await settle();
    expect(seen.A.volume_usd).toBe(200);
    expect(Object.keys(seen)).toEqual(['A', 'B']);
    expect(renders - before).toBe(1);
    // One read of the client's state for the whole burst.
    expect(fake.stateReads).toBeLessThanOrEqual(3);
  });

  it('share one socket between hooks, StrictMode included, and give it back on unmount', async () => {
    function Page() {
      hooks.useCorridors();
      hooks.useAnchors();
      hooks.useSnapshot();
      hooks.useLiveState();
      return null;
    }
    const view = render(<StrictMode><Page /></StrictMode>);
    await settle();
    expect(fake.socketsOpened).toBe(1);
    expect(fake.refcount).toBe(4);
    act(() => fake.setLiveState(state(3)));
    await settle();
    view.unmount();
    await settle();
    expect(fake.refcount).toBe(0);
    expect(fake.activeSubscriptions()).toBe(0);
  });

  it('give the empty state before the client loads and during server rendering', () => {
    const { result } = renderHook(() => hooks.useLiveState());
    expect(result.current).toEqual({ corridors: {}, anchors: {}, snapshot: null, synced: false });
  });
});
