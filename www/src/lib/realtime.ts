// The thin shim between React and the wasm client: load it once, in the
// browser only, and configure it from NEXT_PUBLIC_*. All connection logic
// lives in Rust; nothing here decides anything about the socket.
import { envClientOptions, readEnv } from './config';
import { createLoader, type RealtimeApi, type WasmModule } from './wasmLoader';

// Every type the wasm package generates (WsMessage, ConnectionStatus, Filter, ...).
export type * from 'stellar-insights-ws';
export type { RealtimeApi } from './wasmLoader';

/**
 * URL of the .wasm copied into public/ by scripts/copy-wasm.mjs, with the
 * binary's hash as a cache-buster (set by next.config.ts).
 */
export const WASM_URL = `/wasm/stellar_insights_ws_bg.wasm?v=${process.env.NEXT_PUBLIC_WASM_HASH ?? 'dev'}`;

/**
 * Loads and initialises the wasm client (once per page) and configures it
 * from the environment. Rejects outside the browser; importing this module
 * anywhere is side-effect free.
 */
export const loadRealtime: () => Promise<RealtimeApi> = createLoader(
  // The dynamic import keeps the generated glue out of the server/static build.
  () => import('stellar-insights-ws') as Promise<WasmModule>,
  WASM_URL,
  (api) => api.configure(defaultClientOptions()),
);

/** Client options from NEXT_PUBLIC_* and the page's location (browser only). */
export function defaultClientOptions() {
  return envClientOptions(readEnv(), window.location, process.env.NODE_ENV === 'development');
}
