// The page's one view of the wasm client, shared by the React hooks and the
// compat class: load the module once (browser only), configure it once from
// the environment and the page-wide options, and keep one store of what the
// UI shows. Nothing here decides anything about the socket or its URL: the
// NEXT_PUBLIC_* values go to Rust as given (the port as a number), and Rust
// validates them and picks the URL.
import type * as Glue from './stellar_insights_ws.js';
import type { ClientOptions, ConnectionStatus, Filter, MessageType, ResyncEvent, Subscription, WsError, WsMessage } from './stellar_insights_ws.js';

/** The wasm package's API once initialised (everything but the init functions). */
export type Client = Omit<typeof Glue, 'default' | 'initSync'>;

/** What the loader needs from the generated module. */
export type ClientModule = Client & { default: (input: { module_or_path: string | URL }) => Promise<unknown> };

/**
 * A frame as consumers receive it: every server message but
 * `resync_required`, which goes to the resync callbacks instead, and the
 * state connection's `state` chunks and field deltas, which the client turns
 * into its keyed state and complete updates (state mode) and a server sends
 * to no other connection. These are the old layer's seven types (with the
 * v1 protocol's optional additions).
 */
export type Frame = Exclude<WsMessage, { type: 'resync_required' | 'state' | 'corridor_delta' | 'anchor_delta' }>;
/** The `type` of a {@link Frame}. */
export type FrameType = Frame['type'];

/** An error from the client, or from loading it (`load_failed`). */
export type RealtimeError = WsError | { code: 'load_failed'; message: string };

/** Connection options a consumer may set; the page has one value of each. */
export interface ConnectionOptions {
  /** Full ws(s):// URL; wins over NEXT_PUBLIC_WS_URL / NEXT_PUBLIC_WS_PORT. */
  url?: string;
  /** Sent as ?token=; wins over NEXT_PUBLIC_WS_TOKEN. */
  token?: string;
  /** Reconnect after an unexpected close. Default true. */
  autoReconnect?: boolean;
  /** Reconnect attempts before giving up; null or Infinity = unlimited. Default 5. */
  maxReconnectAttempts?: number | null;
  /** Backoff base in ms. Default 1000. */
  reconnectInterval?: number;
}

/** Page-wide state the UI renders. A new object whenever something in it changes. */
export interface PageState {
  status: ConnectionStatus;
  /** The last error (client, server `error` frame, or failed load), null if none. */
  error: RealtimeError | null;
  /** The wasm could not be loaded or the options were refused; `retry()` tries again. */
  loadFailed: boolean;
}

/** Callbacks of one consumer (a hook or a compat listener). */
export interface Consumer {
  message?(message: Frame): void;
  /** The shared socket opened (also called once on attach when it already is). */
  connect?(): void;
  disconnect?(): void;
  error?(error: RealtimeError): void;
  resync?(event: ResyncEvent): void;
}

/** The old layer's seven message types: what onMessage receives without `messageTypes`. */
export const OLD_MESSAGE_TYPES: readonly FrameType[] = ['snapshot_update', 'corridor_update', 'anchor_update', 'ping', 'pong', 'connected', 'error'];

const IDLE: ConnectionStatus = { state: 'idle', attempt: 0 };
/** The state during server rendering and before the module loads. */
export const INITIAL_PAGE: PageState = { status: IDLE, error: null, loadFailed: false };

// ---------------------------------------------------------------- options

/**
 * Options the app sets for the whole page, before or after the first consumer
 * mounts. `sameOrigin` asks for the page's own port when no URL or port is
 * configured (a page served by the WebSocket server itself).
 */
export type PageOptions = Omit<ClientOptions, 'envUrl' | 'envPort'>;

let pageOptions: PageOptions = {};

/** The build-time environment, each variable written out so Next inlines it; unset when there is no `process`. */
function readEnv(): ClientOptions {
  const env: ClientOptions = {};
  try {
    if (process.env.NEXT_PUBLIC_WS_URL) env.envUrl = process.env.NEXT_PUBLIC_WS_URL;
  } catch {}
  try {
    // A number for the client, which checks it (NaN for text that is not one).
    if (process.env.NEXT_PUBLIC_WS_PORT) env.envPort = Number(process.env.NEXT_PUBLIC_WS_PORT);
  } catch {}
  try {
    if (process.env.NEXT_PUBLIC_WS_TOKEN) env.token = process.env.NEXT_PUBLIC_WS_TOKEN;
  } catch {}
  return env;
}

const OPTION_NAMES = ['url', 'token', 'autoReconnect', 'maxReconnectAttempts', 'reconnectInterval'] as const;
type OptionName = (typeof OPTION_NAMES)[number];
const claims = new Map<OptionName, { value: unknown; count: number }>();

/** Two consumers asked for different connection options. */
export class ConfigError extends Error {
  readonly code = 'invalid_options';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// State mode (the state hooks): once on, on for the page.
let stateMode = false;

/** Turns the client's state mode on for the page (see `ClientOptions.state`); the state hooks call it. */
export function enableStateMode(): void {
  if (stateMode) return;
  stateMode = true;
  client?.configure(clientOptions());
}

/** What `configure()` gets: environment, then page options, then consumers' claims. */
function clientOptions(): ClientOptions {
  const options: ClientOptions = { ...readEnv(), ...pageOptions };
  if (stateMode) options.state = true;
  for (const [name, claim] of claims) (options as Record<string, unknown>)[name] = claim.value;
  return options;
}

/**
 * Records `own` as the page's connection options until the returned function
 * is called. A value different from one another consumer holds throws a
 * ConfigError (tokens are never quoted). Reconfigures a loaded client when
 * something new was claimed; the client's refusal is undone and rethrown.
 */
function claim(own: ConnectionOptions): () => void {
  const taken: OptionName[] = [];
  for (const name of OPTION_NAMES) {
    let value = own[name];
    if (value === undefined) continue;
    if (value === Infinity) value = null;
    const held = claims.get(name);
    if (held && !Object.is(held.value, value)) {
      const shown = name === 'token' ? 'two different tokens' : `${JSON.stringify(held.value)} and ${JSON.stringify(value)}`;
      throw new ConfigError(`two consumers of the page's one socket ask for different ${name}: ${shown}; set connection options once per page`);
    }
    taken.push(name);
  }
  const fresh = taken.filter((name) => !claims.has(name));
  for (const name of taken) {
    const held = claims.get(name);
    if (held) held.count++;
    else claims.set(name, { value: own[name] === Infinity ? null : own[name], count: 1 });
  }
  // Given back by the last holder, a value stops applying (from the next
  // connection attempt on), so the next consumer may set another.
  const unclaim = (reconfigure: boolean) => {
    let freed = false;
    for (const name of taken) {
      const held = claims.get(name);
      if (held && --held.count === 0) freed = claims.delete(name);
    }
    if (freed && reconfigure) client?.configure(clientOptions());
  };
  if (fresh.length > 0 && client) {
    try {
      client.configure(clientOptions());
    } catch (error) {
      unclaim(false);
      throw error;
    }
  }
  return () => unclaim(true);
}

/**
 * Sets page-wide client options (e.g. `{ sameOrigin: true }`, backoff limits).
 * Takes effect on the next connection attempt; invalid options throw when the
 * client is loaded (and are reported when it loads otherwise).
 */
export function setPageOptions(options: PageOptions): void {
  pageOptions = { ...options };
  client?.configure(clientOptions());
}

// ---------------------------------------------------------------- loader

let client: Client | undefined;
let loading: Promise<Client> | undefined;
let importModule = (): Promise<ClientModule> => import('./stellar_insights_ws.js') as Promise<ClientModule>;
let wasmUrl: () => string | URL = () => new URL('./stellar_insights_ws_bg.wasm', import.meta.url);

/**
 * Where the loader finds the module and the .wasm. Defaults: the glue next
 * to this file and `new URL('./stellar_insights_ws_bg.wasm', import.meta.url)`,
 * which Turbopack, webpack and Vite turn into an asset URL. For tests, and for
 * apps that serve the .wasm from elsewhere (a CDN).
 */
export function setLoader(loader: { importModule?: () => Promise<ClientModule>; wasmUrl?: string | URL }): void {
  if (loader.importModule) importModule = loader.importModule;
  if (loader.wasmUrl !== undefined) {
    const url = loader.wasmUrl;
    wasmUrl = () => url;
  }
}

/** The loaded client, if it is. */
export function loadedClient(): Client | undefined {
  return client;
}

/**
 * Loads, initialises and configures the client once per page; every call
 * returns the same promise. A failed load is forgotten, so the next call
 * tries again. Rejects outside the browser.
 */
export function loadClient(): Promise<Client> {
  if (client) return Promise.resolve(client);
  if (typeof window === 'undefined') return Promise.reject(new Error('stellar-insights-ws runs in the browser only'));
  if (!loading) {
    const attempt = (async () => {
      const mod = await importModule();
      await mod.default({ module_or_path: wasmUrl() });
      try {
        mod.configure(clientOptions());
      } catch (error) {
        throw new ConfigError(error instanceof Error ? error.message : String(error));
      }
      client = mod;
      attachPage(mod);
      return mod as Client;
    })();
    loading = attempt;
    attempt.catch(() => {
      if (loading === attempt) loading = undefined;
    });
  }
  return loading;
}

// ---------------------------------------------------------------- store

// Pending values become visible to React once per animation frame, so a
// burst of messages renders each component at most once per frame.
let page = INITIAL_PAGE;
let shownPage = INITIAL_PAGE;
let flushScheduled = false;
const listeners = new Set<() => void>();

interface Channel {
  filter: Filter;
  consumers: Set<Consumer>;
  last: Frame | null;
  shown: Frame | null;
  subscription?: Subscription;
}
const channels = new Map<string, Channel>();
const consumers = new Set<Consumer>();
let leases: Lease[] = [];

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  const run = () => {
    flushScheduled = false;
    shownPage = page;
    for (const channel of channels.values()) channel.shown = channel.last;
    for (const listener of [...listeners]) listener();
  };
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run);
  else setTimeout(run, 16);
}

function setPage(next: Partial<PageState>): void {
  page = { ...page, ...next };
  scheduleFlush();
}

/** For useSyncExternalStore: every hook on the page shares this one subscription list. */
export function subscribeStore(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** The page state as of the last flush (stable between frames). */
export function pageState(): PageState {
  return shownPage;
}

/** The last message a channel received, as of the last flush. */
export function lastMessage(key: string): Frame | null {
  return channels.get(key)?.shown ?? null;
}

function report(error: RealtimeError): void {
  setPage({ error });
  for (const consumer of [...consumers]) consumer.error?.(error);
}

function toError(error: unknown): RealtimeError {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof ConfigError ? { code: 'invalid_options', message } : { code: 'load_failed', message };
}

/** A failed load or refused options: shown page-wide until `retry()`. */
function fail(error: unknown): void {
  setPage({ loadFailed: true });
  report(toError(error));
}

let started: Promise<unknown> | undefined;
/** Starts loading unless loaded or failed; a failure is reported once per attempt. */
function ensureLoaded(): void {
  if (client || page.loadFailed || started) return;
  const attempt = loadClient().then(
    () => undefined,
    (error) => {
      if (started === attempt) started = undefined;
      fail(error);
    },
  );
  started = attempt;
}

// One set of client callbacks for the whole page.
function attachPage(c: Client): void {
  let previous = c.status();
  setPage({ status: previous });
  c.onStatus((next) => {
    const wasOpen = previous.state === 'open';
    previous = next;
    setPage({ status: next });
    const opened = next.state === 'open' && !wasOpen;
    const closed = wasOpen && next.state !== 'open';
    if (opened || closed) for (const consumer of [...consumers]) (opened ? consumer.connect : consumer.disconnect)?.call(consumer);
  });
  c.onError((error) => report(error));
  c.onResync((event) => {
    for (const consumer of [...consumers]) consumer.resync?.(event);
  });
  for (const channel of channels.values()) subscribeChannel(c, channel);
  const waiting = leases;
  leases = [];
  for (const lease of waiting) lease.take(c);
}

function subscribeChannel(c: Client, channel: Channel): void {
  try {
    channel.subscription = c.subscribe(channel.filter, (received) => {
      const message = received as Frame;
      channel.last = message;
      scheduleFlush();
      for (const consumer of [...channel.consumers]) consumer.message?.(message);
    });
  } catch (error) {
    // An unknown message type in a filter: the client reported it already.
    void error;
  }
}

/**
 * The key of a filter: equal keys mean equal filters (lists compared as sorted
 * sets; an empty list means absent, as in the client). No `messageTypes` and
 * no key list means the old layer's seven types, ping and pong included.
 */
export function filterKey(types?: readonly string[], corridorKeys?: readonly string[], anchorIds?: readonly string[]): string {
  const list = (values?: readonly string[]) => (values && values.length > 0 ? [...new Set(values)].sort().join('\u001f') : '');
  const keyed = list(corridorKeys) !== '' || list(anchorIds) !== '';
  const wanted = list(types) || (keyed ? '' : list(OLD_MESSAGE_TYPES));
  return [wanted, list(corridorKeys), list(anchorIds)].join('\u001e');
}

function filterOf(key: string): Filter {
  const [types, corridorKeys, anchorIds] = key.split('\u001e').map((part) => (part === '' ? undefined : part.split('\u001f')));
  const filter: Filter = {};
  if (types) filter.types = types as MessageType[];
  if (corridorKeys) filter.corridorKeys = corridorKeys;
  if (anchorIds) filter.anchorIds = anchorIds;
  return filter;
}

/**
 * Adds a consumer: its `message` callback gets the frames matching the
 * filter `key` (see {@link filterKey}; null for none); consumers with the
 * same key share one client subscription. Its other callbacks get page-wide events; `connect`
 * at once if the socket is already open. Returns the detach function.
 */
export function attach(key: string | null, consumer: Consumer): () => void {
  let channel: Channel | undefined;
  if (key !== null) {
    channel = channels.get(key);
    if (!channel) {
      channel = { filter: filterOf(key), consumers: new Set(), last: null, shown: null };
      channels.set(key, channel);
      if (client) subscribeChannel(client, channel);
    }
    channel.consumers.add(consumer);
  }
  consumers.add(consumer);
  // Told from a microtask: React StrictMode's attach-detach-attach in one
  // task then tells only the consumer that stayed.
  if (client?.status().state === 'open') {
    queueMicrotask(() => {
      if (consumers.has(consumer) && client?.status().state === 'open') consumer.connect?.();
    });
  } else ensureLoaded();
  return () => {
    consumers.delete(consumer);
    if (!channel) return;
    channel.consumers.delete(consumer);
    if (channel.consumers.size === 0 && key !== null && channels.get(key) === channel) {
      channels.delete(key);
      channel.subscription?.unsubscribe();
      channel.subscription?.free();
    }
  };
}

interface Lease {
  take(c: Client): void;
}

/**
 * Takes a reference on the shared socket (the first one opens it) with these
 * connection options, until the returned function gives it back. The client
 * keeps the socket when a reference is given back and another taken in the
 * same task (React StrictMode), so the release is immediate. Refused options
 * are reported (`invalid_options`) and take no reference; options refused
 * while the client loads fail the load (`loadFailed`, until `retry()`).
 */
export function lease(own: ConnectionOptions): () => void {
  let unclaim: () => void;
  try {
    unclaim = claim(own);
  } catch (error) {
    // A conflict is this consumer's mistake, not the page's: reported, and
    // the page keeps its socket. A refusal by the loaded client was reported
    // by the client itself.
    if (error instanceof ConfigError) report(toError(error));
    return () => undefined;
  }
  let state: 'waiting' | 'held' | 'done' = 'waiting';
  const entry: Lease = {
    take(c) {
      if (state !== 'waiting') return;
      c.acquire();
      state = 'held';
    },
  };
  if (client) entry.take(client);
  else {
    leases.push(entry);
    ensureLoaded();
  }
  return () => {
    if (state === 'held') client?.release();
    state = 'done';
    leases = leases.filter((l) => l !== entry);
    unclaim();
  };
}

/** Clears a failed load or refused options and loads again; waiting leases then take their reference. */
export function retry(): void {
  if (!page.loadFailed) return;
  setPage({ loadFailed: false, error: null });
  ensureLoaded();
}

/** Runs `action` on the client once loaded; a failed load is reported (once). */
export function withClient(action: (c: Client) => void): void {
  if (client) return action(client);
  ensureLoaded();
  loadClient().then(action, () => undefined);
}
