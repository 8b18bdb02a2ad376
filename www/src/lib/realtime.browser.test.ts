import { FakeRealtime } from '@/test/fakeRealtime';

const wasm = vi.hoisted(() => ({ inits: [] as unknown[], fake: undefined as unknown }));
vi.mock('stellar-insights-ws', async () => {
  const { FakeRealtime: Fake } = await import('@/test/fakeRealtime');
  const fake = new Fake();
  wasm.fake = fake;
  return { ...fake.api(), default: async (input: unknown) => void wasm.inits.push(input) };
});

it('initialises the wasm once from the copied .wasm URL and configures it from the page location', async () => {
  const { loadRealtime, WASM_URL } = await import('./realtime');
  const [a, b] = await Promise.all([loadRealtime(), loadRealtime()]);
  expect(a).toBe(b);
  expect(wasm.inits).toEqual([{ module_or_path: WASM_URL }]);
  expect(WASM_URL).toMatch(/^\/wasm\/stellar_insights_ws_bg\.wasm\?v=/);
  // jsdom's page is http://localhost:3000/ and this is not `next dev`: same origin port.
  expect((wasm.fake as FakeRealtime).configured).toEqual([{ port: 3000 }]);
});
