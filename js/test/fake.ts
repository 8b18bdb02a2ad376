// An in-memory stand-in for the wasm client's JS API (declared in
// pkg/stellar_insights_ws.d.ts, generated from src/bindings.rs), so the hooks' and the
// compat class's own logic can be tested without a browser or a server. It
// keeps the client's contract: reference count with the same-task linger of
// release(), filters (no types = all but ping/pong), one status object per
// change. The e2e suites cover the real client.
import type { ClientOptions, ConnectionStatus, Filter, LiveState, ResyncEvent, WsError, WsMessage } from '../src/stellar_insights_ws.js';
import type { ClientModule } from '../src/client.js';

type Sub<T> = { callback: (value: T) => void; filter?: Filter; active: boolean };

export class FakeClient {
  refcount = 0;
  acquires = 0;
  releases = 0;
  socketsOpened = 0;
  inits: unknown[] = [];
  configured: ClientOptions[] = [];
  calls: string[] = [];
  /** When set, configure() throws it (the client refusing options). */
  refuse: string | undefined;
  private current: ConnectionStatus = { state: 'idle', attempt: 0 };
  private lingering = false;
  private messageSubs: Sub<WsMessage>[] = [];
  private statusSubs: Sub<ConnectionStatus>[] = [];
  private errorSubs: Sub<WsError>[] = [];
  private resyncSubs: Sub<ResyncEvent>[] = [];
  private stateSubs: Sub<void>[] = [];
  private live: LiveState = { corridors: {}, anchors: {}, snapshot: null, synced: false };
  /** How often state() was read. */
  stateReads = 0;

  /** The client's keyed state changed: a new object, announced like onState does. */
  setLiveState(next: LiveState): void {
    this.live = next;
    for (const s of this.stateSubs) if (s.active) s.callback();
  }

  activeSubscriptions(): number {
    return this.messageSubs.filter((s) => s.active).length;
  }

  activeFilters(): Filter[] {
    return this.messageSubs.filter((s) => s.active).map((s) => s.filter!);
  }

  setStatus(next: ConnectionStatus): void {
    this.current = next;
    for (const s of this.statusSubs) if (s.active) s.callback(next);
  }

  emit(message: WsMessage): void {
    for (const s of this.messageSubs) if (s.active && matches(s.filter!, message)) s.callback(message);
  }

  emitError(error: WsError): void {
    for (const s of this.errorSubs) if (s.active) s.callback(error);
  }

  emitResync(event: ResyncEvent): void {
    for (const s of this.resyncSubs) if (s.active) s.callback(event);
  }

  module(): ClientModule {
    const add = <T>(list: Sub<T>[], callback: (v: T) => void, filter?: Filter) => {
      const sub: Sub<T> = { callback, filter, active: true };
      list.push(sub);
      return { unsubscribe: () => (sub.active = false), free: () => undefined } as never;
    };
    return {
      default: async (input: unknown) => void this.inits.push(input),
      configure: (o: ClientOptions) => {
        if (this.refuse) throw new Error(this.refuse);
        this.configured.push(o);
      },
      acquire: () => {
        this.acquires++;
        if (this.refcount++ === 0 && !this.lingering) {
          this.socketsOpened++;
          this.setStatus({ state: 'open', attempt: 0, connectionId: `conn-${this.socketsOpened}` });
        }
      },
      release: () => {
        this.releases++;
        if (this.refcount === 0) throw new Error('release without acquire');
        if (--this.refcount === 0) {
          // Like the client: the socket closes at the end of the task unless acquired again.
          this.lingering = true;
          setTimeout(() => {
            this.lingering = false;
            if (this.refcount === 0) this.setStatus({ state: 'idle', attempt: 0 });
          }, 0);
        }
      },
      connect: () => void this.calls.push('connect'),
      disconnect: () => void this.calls.push('disconnect'),
      ping: () => void this.calls.push('ping'),
      send: () => void this.calls.push('send'),
      subscribe: (filter: Filter, cb: (m: WsMessage) => void) => add(this.messageSubs, cb, filter),
      onStatus: (cb: (s: ConnectionStatus) => void) => add(this.statusSubs, cb),
      onError: (cb: (e: WsError) => void) => add(this.errorSubs, cb),
      onResync: (cb: (e: ResyncEvent) => void) => add(this.resyncSubs, cb),
      onState: (cb: () => void) => add(this.stateSubs, cb),
      state: () => {
        this.stateReads++;
        return this.live;
      },
      isConnected: () => this.current.state === 'open',
      status: () => this.current,
      connectionId: () => this.current.connectionId,
      lastMessage: () => undefined,
      lastSeq: () => undefined,
      reset: () => void this.calls.push('reset'),
    } as unknown as ClientModule;
  }
}

function matches(filter: Filter, m: WsMessage): boolean {
  const keyed = (filter.corridorKeys?.length ?? 0) > 0 || (filter.anchorIds?.length ?? 0) > 0;
  if (filter.types && filter.types.length > 0) {
    if (!filter.types.includes(m.type)) return false;
  } else if (keyed) {
    if (!(filter.corridorKeys?.length && m.type === 'corridor_update') && !(filter.anchorIds?.length && m.type === 'anchor_update')) return false;
  } else if (m.type === 'ping' || m.type === 'pong') return false;
  if (filter.corridorKeys?.length && m.type === 'corridor_update' && !filter.corridorKeys.includes(m.corridor_key)) return false;
  if (filter.anchorIds?.length && m.type === 'anchor_update' && !filter.anchorIds.includes(m.anchor_id)) return false;
  return true;
}
