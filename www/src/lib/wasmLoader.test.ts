import { createLoader, type WasmModule } from './wasmLoader';
import { FakeRealtime } from '@/test/fakeRealtime';

function fakeModule(init: () => Promise<unknown> = async () => ({})) {
  const api = new FakeRealtime().api();
  const initCalls: unknown[] = [];
  const mod = { ...api, default: (input: unknown) => (initCalls.push(input), init()) } as unknown as WasmModule;
  return { mod, initCalls };
}

describe('createLoader', () => {
  it('imports and initialises the module once for any number of callers', async () => {
    const { mod, initCalls } = fakeModule();
    let imports = 0;
    const setups: unknown[] = [];
    const load = createLoader(async () => (imports++, mod), '/wasm/x.wasm?v=1', (api) => setups.push(api));
    const [a, b] = await Promise.all([load(), load()]);
    expect(await load()).toBe(a);
    expect(b).toBe(a);
    expect(imports).toBe(1);
    expect(initCalls).toEqual([{ module_or_path: '/wasm/x.wasm?v=1' }]);
    expect(setups).toHaveLength(1);
  });

  it('tries again after a failed load instead of caching the failure', async () => {
    let fail = true;
    const { mod } = fakeModule(async () => {
      if (fail) throw new Error('404 wasm');
    });
    const load = createLoader(async () => mod, '/w', () => undefined);
    await expect(load()).rejects.toThrow('404 wasm');
    fail = false;
    await expect(load()).resolves.toBeDefined();
  });

  it('rejects with a clear error outside the browser without importing anything', async () => {
    vi.stubGlobal('window', undefined);
    try {
      let imports = 0;
      const load = createLoader(async () => (imports++, fakeModule().mod), '/w', () => undefined);
      await expect(load()).rejects.toThrow('browser only');
      expect(imports).toBe(0);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('surfaces an error thrown while configuring', async () => {
    const load = createLoader(async () => fakeModule().mod, '/w', () => {
      throw new Error('bad NEXT_PUBLIC_WS_PORT');
    });
    await expect(load()).rejects.toThrow('bad NEXT_PUBLIC_WS_PORT');
  });
});
