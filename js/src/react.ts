'use client';
// React hooks over the page's one wasm client: drop-in for the old
// `@/hooks/useWebSocket` (same names, options and return fields; additions
// are optional). State comes from the page-wide store in client.ts through
// useSyncExternalStore; user callbacks are Effect Events.
import { useCallback, useEffect, useEffectEvent, useState, useSyncExternalStore } from 'react';
import {
  INITIAL_PAGE,
  attach,
  filterKey,
  lastMessage as channelMessage,
  lease,
  pageState,
  retry,
  subscribeStore,
  withClient,
  type ConnectionOptions,
  type RealtimeError,
} from './client.js';
import { EMPTY_STATE, holdState, liveState, subscribeLiveState } from './state.js';
import type { ConnectionStatus, LiveState, ResyncEvent } from './stellar_insights_ws.js';
import type { Frame as WsMessage, FrameType as MessageType } from './client.js';

export type { ConnectionState, ConnectionStatus, LiveState, ResyncEvent } from './stellar_insights_ws.js';
export type { ConnectionOptions, PageOptions, RealtimeError, Frame as WsMessage, FrameType as MessageType } from './client.js';
export { setPageOptions } from './client.js';

/**
 * Options of {@link useWebSocket}. Connection options (`url`, `token`,
 * `autoReconnect`, `maxReconnectAttempts`, `reconnectInterval`) belong to the
 * page's one socket: a hook that asks for a value different from the one
 * another mounted hook set gets an `invalid_options` error instead.
 * Callbacks are declared as methods so callbacks typed for the old layer's
 * narrower message types still type-check.
 */
export interface UseWebSocketOptions extends ConnectionOptions {
  /** Take a reference on the shared socket on mount (opening it if first). Default true. */
  autoConnect?: boolean;
  /**
   * Only these message types reach onMessage / lastMessage. Default: the
   * old layer's seven (`snapshot_update`, `corridor_update`, `anchor_update`,
   * `ping`, `pong`, `connected`, `error`); `resync_required` goes to onResync.
   */
  messageTypes?: MessageType[];
  /** Only corridor_update frames for these corridor keys. */
  corridorKeys?: string[];
  /** Only anchor_update frames for these anchor ids. */
  anchorIds?: string[];
  onMessage?(message: WsMessage): void;
  onConnect?(): void;
  onDisconnect?(): void;
  /** The error's message first (the old signature), the structured error second. */
  onError?(message: string, error: RealtimeError): void;
  /** Missed updates could not be replayed: reload through REST. */
  onResync?(event: ResyncEvent): void;
}

/** What {@link useWebSocket} returns. */
export interface UseWebSocketReturn {
  isConnected: boolean;
  connectionId: string | null;
  lastMessage: WsMessage | null;
  connect: () => void;
  disconnect: () => void;
  ping: () => void;
  /** Full connection status (state, attempt, next attempt time). */
  status: ConnectionStatus;
  /** Current reconnect attempt, 0 when connected. */
  reconnectAttempt: number;
  /** The wasm client could not be loaded or configured; `connect()` tries again. */
  loadFailed: boolean;
  /** The last error reported on the page, null if none. */
  error: RealtimeError | null;
}

const serverPage = () => INITIAL_PAGE;
const serverMessage = () => null;

/** Live connection state and messages from the page's one shared socket. */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketReturn {
  const { autoConnect = true, url, token, autoReconnect, maxReconnectAttempts, reconnectInterval } = options;
  const key = filterKey(options.messageTypes, options.corridorKeys, options.anchorIds);

  const page = useSyncExternalStore(subscribeStore, pageState, serverPage);
  const lastMessage = useSyncExternalStore(subscribeStore, () => channelMessage(key), serverMessage);

  const onMessage = useEffectEvent((message: WsMessage) => options.onMessage?.(message));
  const onConnect = useEffectEvent(() => options.onConnect?.());
  const onDisconnect = useEffectEvent(() => options.onDisconnect?.());
  const onError = useEffectEvent((error: RealtimeError) => options.onError?.(error.message, error));
  const onResync = useEffectEvent((event: ResyncEvent) => options.onResync?.(event));

  useEffect(
    () =>
      attach(key, {
        message: (m) => onMessage(m),
        connect: () => onConnect(),
        disconnect: () => onDisconnect(),
        error: (e) => onError(e),
        resync: (e) => onResync(e),
      }),
    [key],
  );

  // With autoConnect, a reference for as long as the hook is mounted;
  // without, from the first connect() on.
  const [manual, setManual] = useState(false);
  const holds = autoConnect || manual;
  useEffect(() => {
    if (!holds) return;
    return lease({ url, token, autoReconnect, maxReconnectAttempts, reconnectInterval });
  }, [holds, url, token, autoReconnect, maxReconnectAttempts, reconnectInterval]);

  const connect = useCallback(() => {
    retry();
    setManual(true);
    withClient((c) => c.connect());
  }, []);
  const disconnect = useCallback(() => withClient((c) => c.disconnect()), []);
  const ping = useCallback(() => withClient((c) => c.ping()), []);

  return {
    isConnected: page.status.state === 'open',
    connectionId: page.status.connectionId ?? null,
    lastMessage,
    connect,
    disconnect,
    ping,
    status: page.status,
    reconnectAttempt: page.status.attempt,
    loadFailed: page.loadFailed,
    error: page.error,
  };
}

type Update<T extends MessageType> = Extract<WsMessage, { type: T }>;
type TypedOptions = Omit<UseWebSocketOptions, 'messageTypes' | 'onMessage'>;

function useTypedUpdates<T extends MessageType>(type: T, onUpdate: (update: Update<T>) => void, options: TypedOptions): UseWebSocketReturn {
  const deliver = useEffectEvent((update: Update<T>) => onUpdate(update));
  return useWebSocket({
    ...options,
    messageTypes: [type],
    onMessage: (message) => {
      if (message.type === type) deliver(message as Update<T>);
    },
  });
}

/** Calls `onUpdate` for every snapshot_update. */
export function useSnapshotUpdates(onUpdate: (update: Update<'snapshot_update'>) => void, options: TypedOptions = {}): UseWebSocketReturn {
  return useTypedUpdates('snapshot_update', onUpdate, options);
}

/** Calls `onUpdate` for every corridor_update (optionally only `options.corridorKeys`). */
export function useCorridorUpdates(onUpdate: (update: Update<'corridor_update'>) => void, options: TypedOptions = {}): UseWebSocketReturn {
  return useTypedUpdates('corridor_update', onUpdate, options);
}

/** Calls `onUpdate` for every anchor_update (optionally only `options.anchorIds`). */
export function useAnchorUpdates(onUpdate: (update: Update<'anchor_update'>) => void, options: TypedOptions = {}): UseWebSocketReturn {
  return useTypedUpdates('anchor_update', onUpdate, options);
}

// ---------------------------------------------------------------- keyed state

const serverState = () => EMPTY_STATE;

function useHeldState<T>(types: MessageType[], select: (state: LiveState) => T): T {
  const key = types.join();
  // `types` is one of the constant lists below: `key` keeps the effect stable.
  useEffect(() => holdState(key.split(',') as MessageType[]), [key]);
  return useSyncExternalStore(subscribeLiveState, () => select(liveState()), () => select(serverState()));
}

const ALL_UPDATES: MessageType[] = ['snapshot_update', 'corridor_update', 'anchor_update'];

/**
 * The current corridors, anchors and latest snapshot, kept by the client in
 * state mode (turned on for the page by the first state hook): the server
 * sends the current records on every (re)connect, then changes, as field
 * deltas the client completes. Re-renders at most once per animation frame.
 * Holds a reference on the page's socket while mounted.
 */
export function useLiveState(): LiveState {
  return useHeldState(ALL_UPDATES, (state) => state);
}

const CORRIDOR_UPDATES: MessageType[] = ['corridor_update'];
const ANCHOR_UPDATES: MessageType[] = ['anchor_update'];
const SNAPSHOT_UPDATES: MessageType[] = ['snapshot_update'];
const corridorsOf = (state: LiveState) => state.corridors;
const anchorsOf = (state: LiveState) => state.anchors;
const snapshotOf = (state: LiveState) => state.snapshot;

/** Every corridor's current record by `corridor_key` (see {@link useLiveState}). */
export function useCorridors(): LiveState['corridors'] {
  return useHeldState(CORRIDOR_UPDATES, corridorsOf);
}

/** Every anchor's current record by `anchor_id` (see {@link useLiveState}). */
export function useAnchors(): LiveState['anchors'] {
  return useHeldState(ANCHOR_UPDATES, anchorsOf);
}

/** The latest snapshot, `null` before there is one (see {@link useLiveState}). */
export function useSnapshot(): LiveState['snapshot'] {
  return useHeldState(SNAPSHOT_UPDATES, snapshotOf);
}
