// Fresh package modules and a fresh fake client for every test: the store
// and the loader are page-wide module state.
import type { FakeClient } from './fake';

export async function freshPackage(): Promise<{
  fake: FakeClient;
  client: typeof import('../src/client');
  react: typeof import('../src/react');
  compat: typeof import('../src/compat');
}> {
  vi.resetModules();
  const { FakeClient: Fake } = await import('./fake');
  const fake = new Fake();
  const client = await import('../src/client');
  client.setLoader({ importModule: async () => fake.module(), wasmUrl: '/test.wasm' });
  const react = await import('../src/react');
  const compat = await import('../src/compat');
  return { fake, client, react, compat };
}
