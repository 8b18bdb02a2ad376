// An in-memory stand-in for the wasm client's JS API (declared in pkg/stellar_insights_ws.d.ts, generated from src/bindings.rs), so
// the hooks' own logic can be tested without a browser or a server. It keeps
// the contract's refcount and filter semantics; the e2e suite covers the real one.
import type { ClientOptions, ConnectionStatus, Filter, ResyncEvent, WsError, WsMessage } from 'stellar-insights-ws';
import type { RealtimeApi } from '@/lib/wasmLoader';

type Sub<T> = { callback: (value: T) => void; filter?: Filter; active: boolean };

export class FakeRealtime {
  refcount = 0;
  acquires = 0;
  releases = 0;
  socketsOpened = 0;
  configured: ClientOptions[] = [];
  calls: string[] = [];
  private current: ConnectionStatus = { state: 'idle', attempt: 0 };
  private messageSubs: Sub<WsMessage>[] = [];
  private statusSubs: Sub<ConnectionStatus>[] = [];
  private errorSubs: Sub<WsError>[] = [];
  private resyncSubs: Sub<ResyncEvent>[] = [];

  activeSubscriptions(): number {
    return [...this.messageSubs, ...this.statusSubs, ...this.errorSubs, ...this.resyncSubs].filter((s) => s.active).length;
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

  api(): RealtimeApi {
    const add = <T>(list: Sub<T>[], callback: (v: T) => void, filter?: Filter) => {
      const sub: Sub<T> = { callback, filter, active: true };
      list.push(sub);
      return { unsubscribe: () => (sub.active = false), free: () => undefined } as never;
    };
    return {
      configure: (o: ClientOptions) => void this.configured.push(o),
      acquire: () => {
        this.acquires++;
        if (this.refcount++ === 0) {
          this.socketsOpened++;
          this.setStatus({ state: 'open', attempt: 0, connectionId: `conn-${this.socketsOpened}` });
        }
      },
      release: () => {
        this.releases++;
        if (this.refcount === 0) throw new Error('release without acquire');
        if (--this.refcount === 0) this.setStatus({ state: 'closed', attempt: 0 });
      },
      connect: () => void this.calls.push('connect'),
      disconnect: () => void this.calls.push('disconnect'),
      ping: () => void this.calls.push('ping'),
      send: () => void this.calls.push('send'),
      subscribe: (filter: Filter, cb: (m: WsMessage) => void) => add(this.messageSubs, cb, filter),
      onStatus: (cb: (s: ConnectionStatus) => void) => add(this.statusSubs, cb),
      onError: (cb: (e: WsError) => void) => add(this.errorSubs, cb),
      onResync: (cb: (e: ResyncEvent) => void) => add(this.resyncSubs, cb),
      isConnected: () => this.current.state === 'open',
      status: () => this.current,
      connectionId: () => this.current.connectionId,
      lastMessage: () => undefined,
      lastSeq: () => undefined,
    } as unknown as RealtimeApi;
  }
}

function matches(filter: Filter, m: WsMessage): boolean {
  if (filter.types ? !filter.types.includes(m.type) : m.type === 'ping' || m.type === 'pong') return false;
  if (filter.corridorKeys && m.type === 'corridor_update' && !filter.corridorKeys.includes(m.corridor_key)) return false;
  if (filter.anchorIds && m.type === 'anchor_update' && !filter.anchorIds.includes(m.anchor_id)) return false;
  return true;
}
