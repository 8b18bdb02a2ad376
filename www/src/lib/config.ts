// Connection settings for the wasm client, from hook options and the
// NEXT_PUBLIC_* build-time variables. Pure so it can be unit-tested.
import type { ClientOptions } from 'stellar-insights-ws';

/** The NEXT_PUBLIC_* values as strings (unset or empty = not given). */
export interface RealtimeEnv {
  /** NEXT_PUBLIC_WS_URL: full ws(s):// URL of the server's /ws. */
  wsUrl?: string;
  /** NEXT_PUBLIC_WS_PORT: port of the server on the page's host. */
  wsPort?: string;
  /** NEXT_PUBLIC_WS_TOKEN: sent as ?token=. */
  wsToken?: string;
}

/** Where the page runs, as far as the default WebSocket URL cares. */
export interface PageLocation {
  protocol: string;
  port: string;
}

/** Port the server listens on by default (SERVER_PORT). */
export const DEFAULT_SERVER_PORT = 8080;

/**
 * The build-time environment. Each variable is named literally because Next
 * inlines `process.env.NEXT_PUBLIC_*` only when written out in full.
 */
export function readEnv(): RealtimeEnv {
  return {
    wsUrl: process.env.NEXT_PUBLIC_WS_URL,
    wsPort: process.env.NEXT_PUBLIC_WS_PORT,
    wsToken: process.env.NEXT_PUBLIC_WS_TOKEN,
  };
}

/** A NEXT_PUBLIC_* value or option the dashboard cannot use. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function parsePort(raw: string, name: string): number {
  const port = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${name} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Client options from the environment.
 *
 * Precedence: NEXT_PUBLIC_WS_URL, then NEXT_PUBLIC_WS_PORT on the page's host.
 * With neither: under `next dev` the server's default port 8080 on the page's
 * host; in the static export the page's own port, because the server that
 * served the page is the one that serves /ws (same origin, any port).
 */
export function envClientOptions(env: RealtimeEnv, page: PageLocation, isDev: boolean): ClientOptions {
  const options: ClientOptions = {};
  const url = nonEmpty(env.wsUrl);
  const port = nonEmpty(env.wsPort);
  const token = nonEmpty(env.wsToken);
  if (url) {
    if (!/^wss?:\/\//i.test(url)) {
      throw new ConfigError(`NEXT_PUBLIC_WS_URL must start with ws:// or wss://, got ${JSON.stringify(url)}`);
    }
    options.envUrl = url;
  }
  if (port) {
    options.port = parsePort(port, 'NEXT_PUBLIC_WS_PORT');
  } else if (!url) {
    options.port = isDev ? DEFAULT_SERVER_PORT : pagePort(page);
  }
  if (token) options.token = token;
  return options;
}

function pagePort(page: PageLocation): number {
  if (page.port) return parsePort(page.port, 'the page port');
  return page.protocol === 'https:' ? 443 : 80;
}

/** Connection options a hook may set; they win over the environment. */
export interface HookConnectionOptions {
  url?: string;
  token?: string;
  autoReconnect?: boolean;
  maxReconnectAttempts?: number | null;
  reconnectInterval?: number;
}

/** True when the hook sets any option that changes the shared connection. */
export function hasConnectionOptions(o: HookConnectionOptions): boolean {
  return (
    o.url !== undefined ||
    o.token !== undefined ||
    o.autoReconnect !== undefined ||
    o.maxReconnectAttempts !== undefined ||
    o.reconnectInterval !== undefined
  );
}

/** Environment defaults overlaid with the hook's own connection options. */
export function mergeClientOptions(base: ClientOptions, hook: HookConnectionOptions): ClientOptions {
  const merged: ClientOptions = { ...base };
  if (hook.url !== undefined) merged.url = hook.url;
  if (hook.token !== undefined) merged.token = hook.token;
  if (hook.autoReconnect !== undefined) merged.autoReconnect = hook.autoReconnect;
  if (hook.maxReconnectAttempts !== undefined) merged.maxReconnectAttempts = hook.maxReconnectAttempts;
  if (hook.reconnectInterval !== undefined) {
    if (!(hook.reconnectInterval > 0)) {
      throw new ConfigError(`reconnectInterval must be a positive number of ms, got ${hook.reconnectInterval}`);
    }
    merged.reconnectInterval = hook.reconnectInterval;
  }
  return merged;
}
