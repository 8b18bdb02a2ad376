import { leaseClient } from './lease';
import { FakeRealtime } from '@/test/fakeRealtime';

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('leaseClient', () => {
  it('acquires once loaded and releases after the current task', async () => {
    const fake = new FakeRealtime();
    const api = fake.api();
    const release = leaseClient(async () => api);
    await flush();
    expect(fake.refcount).toBe(1);
    release();
    expect(fake.refcount).toBe(1);
    await flush();
    expect(fake.refcount).toBe(0);
  });

  it('keeps the socket open across an unmount/remount in the same task (StrictMode)', async () => {
    const fake = new FakeRealtime();
    const api = fake.api();
    const first = leaseClient(async () => api);
    await flush();
    first();
    const second = leaseClient(async () => api);
    await flush();
    await flush();
    expect(fake.socketsOpened).toBe(1);
    expect(fake.refcount).toBe(1);
    second();
    await flush();
    expect(fake.refcount).toBe(0);
    expect(fake.socketsOpened).toBe(1);
  });

  it('never acquires when given back before the module loaded', async () => {
    const fake = new FakeRealtime();
    const api = fake.api();
    leaseClient(async () => api)();
    await flush();
    await flush();
    expect(fake.acquires).toBe(0);
    expect(fake.releases).toBe(0);
  });

  it('configures before acquiring when given options', async () => {
    const fake = new FakeRealtime();
    const api = fake.api();
    leaseClient(async () => api, { token: 't' });
    await flush();
    expect(fake.configured).toEqual([{ token: 't' }]);
    expect(fake.refcount).toBe(1);
  });

  it('reports a load failure instead of throwing', async () => {
    const errors: unknown[] = [];
    const release = leaseClient(() => Promise.reject(new Error('no wasm')), undefined, (e) => errors.push(e));
    await flush();
    expect(errors).toHaveLength(1);
    expect(() => release()).not.toThrow();
  });
});
