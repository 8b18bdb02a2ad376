// The old `@/lib/websocket` module's names with their old meanings, as thin
// views of the page's one wasm client: every StellarInsightsWebSocket (and
// getWebSocketInstance()) shares the one socket; nothing here opens its own.
import { attach, filterKey, lease, loadedClient, pageState, withClient, OLD_MESSAGE_TYPES, type RealtimeError } from './client.js';
import type { Frame } from './client.js';

/** The seven message types of the old layer. */
export type WsMessageType = 'snapshot_update' | 'corridor_update' | 'anchor_update' | 'ping' | 'pong' | 'connected' | 'error';

type Of<T extends WsMessageType> = Extract<Frame, { type: T }>;
/** `snapshot_update` (v1 adds the optional `seq`). */
export type WsSnapshotUpdate = Of<'snapshot_update'>;
/** `corridor_update` (v1 adds the optional `seq`). */
export type WsCorridorUpdate = Of<'corridor_update'>;
/** `anchor_update` (v1 adds the optional `seq`). */
export type WsAnchorUpdate = Of<'anchor_update'>;
export type WsPing = Of<'ping'>;
export type WsPong = Of<'pong'>;
/** `connected` (v1 adds optional `protocol`, `heartbeat_ms`, `seq`, `resumed`). */
export type WsConnected = Of<'connected'>;
/** The `error` frame: `{ type: 'error', message }` (v1 adds the optional `code`). */
export type WsError = Of<'error'>;
/** The union of the seven old frames. */
export type WsMessage = WsSnapshotUpdate | WsCorridorUpdate | WsAnchorUpdate | WsPing | WsPong | WsConnected | WsError;
export type WsEventHandler = (message: WsMessage) => void;

/** The old connection options; they are the page's one socket's options. */
export interface WebSocketConfig {
  url?: string;
  token?: string;
  autoReconnect?: boolean;
  reconnectInterval?: number;
  maxReconnectAttempts?: number;
}

// Client errors (a lost socket, a malformed frame, refused options) reach
// 'error' listeners as the old layer's synthetic error frame did.
// Server `error` frames arrive as frames already, not twice.
function clientError(error: RealtimeError, handler: WsEventHandler): void {
  if (error.code !== 'server_error') handler({ type: 'error', message: error.message, code: error.code });
}

/**
 * The old client class, now a view of the shared socket. `connect()` takes
 * this instance's reference on it (the first reference opens it) and
 * `disconnect()` closes it for the page, as the old singleton did.
 */
export class StellarInsightsWebSocket {
  private release: (() => void) | null = null;
  private readonly config: WebSocketConfig;

  constructor(config: WebSocketConfig = {}) {
    this.config = { ...config };
  }

  /** Opens the shared socket (or keeps it open) and holds a reference until disconnect(). */
  connect(): void {
    if (!this.release) this.release = lease(this.config);
    withClient((c) => c.connect());
  }

  /** Closes the shared socket; no reconnect until connect(). */
  disconnect(): void {
    this.release?.();
    this.release = null;
    withClient((c) => c.disconnect());
  }

  isConnected(): boolean {
    return (loadedClient()?.status() ?? pageState().status).state === 'open';
  }

  getConnectionId(): string | null {
    return (loadedClient()?.status() ?? pageState().status).connectionId ?? null;
  }

  /** Calls `handler` with every frame of `type`; returns the unsubscribe function. */
  on(type: WsMessageType, handler: WsEventHandler): () => void {
    const detach = attach(filterKey([type]), { message: handler });
    if (type !== 'error') return detach;
    const detachErrors = attach(null, { error: (e) => clientError(e, handler) });
    return () => {
      detach();
      detachErrors();
    };
  }

  /** Calls `handler` with every frame of the seven types; returns the unsubscribe function. */
  onAny(handler: WsEventHandler): () => void {
    return attach(filterKey(OLD_MESSAGE_TYPES), { message: handler, error: (e) => clientError(e, handler) });
  }

  /** Sends `{type: 'ping', timestamp}`; queued while the socket is not open. */
  ping(): void {
    withClient((c) => c.ping());
  }
}

let instance: StellarInsightsWebSocket | null = null;

/** The page's StellarInsightsWebSocket; `config` counts on the first call only, as before. */
export function getWebSocketInstance(config?: WebSocketConfig): StellarInsightsWebSocket {
  if (!instance) instance = new StellarInsightsWebSocket(config);
  return instance;
}

/** Disconnects and forgets the instance returned by getWebSocketInstance(). */
export function resetWebSocketInstance(): void {
  instance?.disconnect();
  instance = null;
}
