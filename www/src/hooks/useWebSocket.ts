'use client';
// React hooks over the shared wasm client. Drop-in for the old hooks: same
// names, options and return fields; additions are optional.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import { BatchedStore } from '@/lib/batchedStore';
import { ConfigError, hasConnectionOptions, mergeClientOptions, type HookConnectionOptions } from '@/lib/config';
import { leaseClient } from '@/lib/lease';
import {
  defaultClientOptions,
  loadRealtime,
  type ClientOptions,
  type ConnectionStatus,
  type Filter,
  type MessageType,
  type ResyncEvent,
  type Subscription,
  type WsError,
  type WsMessage,
} from '@/lib/realtime';

export type { ConnectionState, ConnectionStatus, MessageType, ResyncEvent, WsError, WsMessage } from '@/lib/realtime';

/** An error from the client, or from loading/configuring it in the shim. */
export type RealtimeError = WsError | { code: 'load_failed'; message: string };

/** Options of {@link useWebSocket}. Connection options are shared by the page's one socket. */
export interface UseWebSocketOptions {
  /** Take a reference on the shared socket on mount (opening it if first). Default true. */
  autoConnect?: boolean;
  /** Reconnect after an unexpected close. Default true. */
  autoReconnect?: boolean;
  /** Reconnect attempts before giving up; null = unlimited. Default 5. */
  maxReconnectAttempts?: number | null;
  /** Backoff base in ms. Default 1000. */
  reconnectInterval?: number;
  /** Full ws(s):// URL; wins over NEXT_PUBLIC_WS_URL / NEXT_PUBLIC_WS_PORT. */
  url?: string;
  /** Sent as ?token=; wins over NEXT_PUBLIC_WS_TOKEN. */
  token?: string;
  /** Only these message types reach onMessage / lastMessage. Default: all. */
  messageTypes?: MessageType[];
  /** Only corridor_update frames for these corridor keys. */
  corridorKeys?: string[];
  /** Only anchor_update frames for these anchor ids. */
  anchorIds?: string[];
  onMessage?: (message: WsMessage) => void;
  onConnect?: () => void;
  onDisconnect?: () => void;
  onError?: (error: RealtimeError) => void;
  /** Missed updates could not be replayed: reload through REST. */
  onResync?: (event: ResyncEvent) => void;
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
  /** The last error reported (by the client or while loading it), null if none. */
  error: RealtimeError | null;
}

interface HookState {
  status: ConnectionStatus;
  lastMessage: WsMessage | null;
  loadFailed: boolean;
  error: RealtimeError | null;
}

const IDLE: ConnectionStatus = { state: 'idle', attempt: 0 };

// useLayoutEffect warns during server rendering of the static export.
const useIsomorphicLayoutEffect = typeof window === 'undefined' ? useEffect : useLayoutEffect;

function toRealtimeError(error: unknown): RealtimeError {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof ConfigError ? { code: 'invalid_options', message } : { code: 'load_failed', message };
}

function sortedOrNull(values: readonly string[] | undefined): string[] | null {
  return values ? [...values].sort() : null;
}

/** Live connection state and messages from the page's one shared socket. */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketReturn {
  const { autoConnect = true, url, token, autoReconnect, maxReconnectAttempts, reconnectInterval } = options;

  // Callbacks live in a ref: a new inline function each render neither
  // resubscribes nor goes stale.
  const latest = useRef(options);
  useIsomorphicLayoutEffect(() => {
    latest.current = options;
  });

  const [store] = useState(() => new BatchedStore<HookState>({ status: IDLE, lastMessage: null, loadFailed: false, error: null }));
  const state = useSyncExternalStore(store.subscribe, store.get, store.get);
  // Bumped by connect() after a failed load, to run the effects again.
  const [loadAttempt, setLoadAttempt] = useState(0);

  // Arrays are usually written inline; key effects on their contents.
  const filterKey = JSON.stringify([
    sortedOrNull(options.messageTypes),
    sortedOrNull(options.corridorKeys),
    sortedOrNull(options.anchorIds),
  ]);
  // Only the options the hook actually sets (JSON drops undefined ones);
  // Infinity means unlimited, like null, and would not survive JSON.
  const own: HookConnectionOptions = {};
  if (url !== undefined) own.url = url;
  if (token !== undefined) own.token = token;
  if (autoReconnect !== undefined) own.autoReconnect = autoReconnect;
  if (maxReconnectAttempts !== undefined) own.maxReconnectAttempts = maxReconnectAttempts === Infinity ? null : maxReconnectAttempts;
  if (reconnectInterval !== undefined) own.reconnectInterval = reconnectInterval;
  const connectionKey = JSON.stringify(own);

  useEffect(() => {
    const [types, corridorKeys, anchorIds] = JSON.parse(filterKey) as [MessageType[] | null, string[] | null, string[] | null];
    const filter: Filter = {};
    if (types) filter.types = types;
    if (corridorKeys) filter.corridorKeys = corridorKeys;
    if (anchorIds) filter.anchorIds = anchorIds;

    let active = true;
    const subscriptions: Subscription[] = [];
    loadRealtime().then(
      (api) => {
        if (!active) return;
        let previous = api.status();
        store.update((s) => ({ ...s, status: previous }));
        // A hook mounted while another component keeps the socket open is
        // connected from its own point of view: tell it, once.
        if (previous.state === 'open') latest.current.onConnect?.();
        subscriptions.push(
          api.onStatus((next) => {
            const wasOpen = previous.state === 'open';
            previous = next;
            store.update((s) => ({ ...s, status: next }));
            if (next.state === 'open' && !wasOpen) latest.current.onConnect?.();
            if (wasOpen && next.state !== 'open') latest.current.onDisconnect?.();
          }),
          api.subscribe(filter, (message) => {
            store.update((s) => ({ ...s, lastMessage: message }));
            latest.current.onMessage?.(message);
          }),
          api.onError((error) => {
            store.update((s) => ({ ...s, error }));
            latest.current.onError?.(error);
          }),
          api.onResync((event) => latest.current.onResync?.(event)),
        );
      },
      (error) => {
        if (!active) return;
        const reported = toRealtimeError(error);
        store.update((s) => ({ ...s, loadFailed: true, error: reported }));
        latest.current.onError?.(reported);
      },
    );
    return () => {
      active = false;
      for (const subscription of subscriptions) {
        subscription.unsubscribe();
        subscription.free();
      }
    };
  }, [filterKey, store, loadAttempt]);

  /** The options to configure the shared client with, or undefined to leave it as it is. Throws ConfigError. */
  const connectionOptions = useCallback((): ClientOptions | undefined => {
    const parsed = JSON.parse(connectionKey) as HookConnectionOptions;
    return hasConnectionOptions(parsed) ? mergeClientOptions(defaultClientOptions(), parsed) : undefined;
  }, [connectionKey]);

  const reportError = useCallback((error: unknown) => latest.current.onError?.(toRealtimeError(error)), []);
  // Bad options are shown like a failed load: nothing connects until fixed.
  const failConfiguration = useCallback(
    (error: unknown) => {
      const reported = toRealtimeError(error);
      store.update((s) => ({ ...s, loadFailed: true, error: reported }));
      latest.current.onError?.(reported);
    },
    [store],
  );

  // A reference to the shared client with this hook's options, or null
  // (reported through the hook's error) when the options are invalid.
  const lease = useCallback((): (() => void) | null => {
    let options: ClientOptions | undefined;
    try {
      options = connectionOptions();
    } catch (error) {
      failConfiguration(error);
      return null;
    }
    return leaseClient(loadRealtime, options, reportError);
  }, [connectionOptions, reportError, failConfiguration]);

  useEffect(() => {
    if (!autoConnect) return;
    return lease() ?? undefined;
  }, [autoConnect, lease, loadAttempt]);

  // A hook with autoConnect=false that calls connect() holds a reference
  // from then until it unmounts.
  const manualLease = useRef<(() => void) | null>(null);
  useEffect(() => () => {
    manualLease.current?.();
    manualLease.current = null;
  }, []);

  const connect = useCallback(() => {
    if (store.latest().loadFailed) {
      store.update((s) => ({ ...s, loadFailed: false, error: null }));
      setLoadAttempt((n) => n + 1);
      if (latest.current.autoConnect !== false) return;
    }
    if (latest.current.autoConnect === false && !manualLease.current) {
      manualLease.current = lease();
      if (!manualLease.current) return;
    }
    loadRealtime().then((api) => api.connect(), reportError);
  }, [lease, reportError, store]);

  const disconnect = useCallback(() => {
    loadRealtime().then((api) => api.disconnect(), reportError);
  }, [reportError]);

  const ping = useCallback(() => {
    loadRealtime().then((api) => api.ping(), reportError);
  }, [reportError]);

  return {
    isConnected: state.status.state === 'open',
    connectionId: state.status.connectionId ?? null,
    lastMessage: state.lastMessage,
    connect,
    disconnect,
    ping,
    status: state.status,
    reconnectAttempt: state.status.attempt,
    loadFailed: state.loadFailed,
    error: state.error,
  };
}

type Update<T extends MessageType> = Extract<WsMessage, { type: T }>;

function useTypedUpdates<T extends MessageType>(
  type: T,
  onUpdate: (update: Update<T>) => void,
  options: Omit<UseWebSocketOptions, 'messageTypes' | 'onMessage'>,
): UseWebSocketReturn {
  const callback = useRef(onUpdate);
  useIsomorphicLayoutEffect(() => {
    callback.current = onUpdate;
  });
  return useWebSocket({
    ...options,
    messageTypes: [type],
    onMessage: (message) => {
      if (message.type === type) callback.current(message as Update<T>);
    },
  });
}

/** Calls `onUpdate` for every snapshot_update. */
export function useSnapshotUpdates(
  onUpdate: (update: Update<'snapshot_update'>) => void,
  options: Omit<UseWebSocketOptions, 'messageTypes' | 'onMessage'> = {},
): UseWebSocketReturn {
  return useTypedUpdates('snapshot_update', onUpdate, options);
}

/** Calls `onUpdate` for every corridor_update (optionally only `options.corridorKeys`). */
export function useCorridorUpdates(
  onUpdate: (update: Update<'corridor_update'>) => void,
  options: Omit<UseWebSocketOptions, 'messageTypes' | 'onMessage'> = {},
): UseWebSocketReturn {
  return useTypedUpdates('corridor_update', onUpdate, options);
}

/** Calls `onUpdate` for every anchor_update (optionally only `options.anchorIds`). */
export function useAnchorUpdates(
  onUpdate: (update: Update<'anchor_update'>) => void,
  options: Omit<UseWebSocketOptions, 'messageTypes' | 'onMessage'> = {},
): UseWebSocketReturn {
  return useTypedUpdates('anchor_update', onUpdate, options);
}
