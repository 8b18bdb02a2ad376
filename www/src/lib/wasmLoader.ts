// One memoised init of the wasm module. Separate from realtime.ts so it can be
// tested with a fake module (no bundler, no .wasm).
import type * as Wasm from 'stellar-insights-ws';

/** The wasm package's API once initialised (everything except the init functions). */
export type RealtimeApi = Omit<typeof Wasm, 'default' | 'initSync'>;

/** What the loader needs from the generated module. */
export type WasmModule = RealtimeApi & {
  default: (input: { module_or_path: string }) => Promise<unknown>;
};

/**
 * A function that loads, initialises and configures the module once. Every
 * call returns the same promise; a failed load (offline, 404) is forgotten so
 * the next call tries again instead of failing forever.
 */
export function createLoader(
  importModule: () => Promise<WasmModule>,
  wasmUrl: string,
  setup: (api: RealtimeApi) => void,
): () => Promise<RealtimeApi> {
  let ready: Promise<RealtimeApi> | undefined;
  return () => {
    if (typeof window === 'undefined') {
      return Promise.reject(new Error('stellar-insights-ws runs in the browser only'));
    }
    if (!ready) {
      const attempt = (async () => {
        const mod = await importModule();
        await mod.default({ module_or_path: wasmUrl });
        setup(mod);
        return mod as RealtimeApi;
      })();
      ready = attempt;
      attempt.catch(() => {
        if (ready === attempt) ready = undefined;
      });
    }
    return ready;
  };
}
