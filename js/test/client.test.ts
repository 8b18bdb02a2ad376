import { freshPackage } from './setup';

describe('loadClient', () => {
  it('imports, initialises and configures the module once for any number of callers', async () => {
    const { fake, client } = await freshPackage();
    let imports = 0;
    client.setLoader({ importModule: async () => (imports++, fake.module()) });
    const [a, b] = await Promise.all([client.loadClient(), client.loadClient()]);
    expect(await client.loadClient()).toBe(a);
    expect(b).toBe(a);
    expect(imports).toBe(1);
    expect(fake.inits).toEqual([{ module_or_path: '/test.wasm' }]);
    expect(fake.configured).toHaveLength(1);
  });

  it('tries again after a failed load instead of caching the failure', async () => {
    const { fake, client } = await freshPackage();
    let fail = true;
    client.setLoader({
      importModule: async () => {
        if (fail) throw new Error('404 wasm');
        return fake.module();
      },
    });
    await expect(client.loadClient()).rejects.toThrow('404 wasm');
    fail = false;
    await expect(client.loadClient()).resolves.toBeDefined();
  });

  it('rejects with a clear error outside the browser without importing anything', async () => {
    const { client } = await freshPackage();
    let imports = 0;
    client.setLoader({ importModule: async () => (imports++, Promise.reject(new Error('unreachable'))) });
    vi.stubGlobal('window', undefined);
    try {
      await expect(client.loadClient()).rejects.toThrow('stellar-insights-ws runs in the browser only');
      expect(imports).toBe(0);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('reports environment values the client refuses as invalid_options, with the client message', async () => {
    const { fake, client } = await freshPackage();
    fake.refuse = 'NEXT_PUBLIC_WS_PORT must be a port number from 1 to 65535, got "80a"';
    await expect(client.loadClient()).rejects.toMatchObject({ code: 'invalid_options', message: fake.refuse });
  });
});
