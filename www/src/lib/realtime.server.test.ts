// @vitest-environment node
const imported = vi.hoisted(() => ({ count: 0 }));
vi.mock('stellar-insights-ws', () => {
  imported.count++;
  return { default: async () => ({}) };
});

it('importing the shim outside the browser runs nothing and throws nothing', async () => {
  const shim = await import('./realtime');
  expect(typeof window).toBe('undefined');
  await expect(shim.loadRealtime()).rejects.toThrow('stellar-insights-ws runs in the browser only');
  expect(imported.count).toBe(0);
});
