import type { FakeClient } from './fake';
import type { WsEventHandler } from '../src/compat';
import { freshPackage } from './setup';

let fake: FakeClient;
let compat: Awaited<ReturnType<typeof freshPackage>>['compat'];
let react: Awaited<ReturnType<typeof freshPackage>>['react'];

const settle = () => new Promise<void>((r) => setTimeout(r, 40));

beforeEach(async () => {
  ({ fake, compat, react } = await freshPackage());
});

describe('compat StellarInsightsWebSocket', () => {
  it('shares one socket between instances: connect() takes a reference, isConnected and getConnectionId read the client', async () => {
    const a = new compat.StellarInsightsWebSocket();
    const b = compat.getWebSocketInstance({ autoReconnect: true });
    expect(compat.getWebSocketInstance()).toBe(b);
    a.connect();
    b.connect();
    await settle();
    expect(fake.socketsOpened).toBe(1);
    expect(fake.refcount).toBe(2);
    expect(a.isConnected()).toBe(true);
    expect(b.getConnectionId()).toBe('conn-1');
  });

  it('on(type) gets only that type, onAny every old type; both return unsubscribe functions', async () => {
    const ws = new compat.StellarInsightsWebSocket();
    const typed: string[] = [];
    const any: string[] = [];
    const offTyped = ws.on('pong', (m) => typed.push(m.type));
    const offAny = ws.onAny((m) => any.push(m.type));
    ws.connect();
    await settle();
    fake.emit({ type: 'pong', timestamp: 1 });
    fake.emit({ type: 'anchor_update', anchor_id: 'a', name: 'A', reliability_score: 1, status: 'green' });
    offTyped();
    offAny();
    fake.emit({ type: 'pong', timestamp: 2 });
    expect(typed).toEqual(['pong']);
    expect(any).toEqual(['pong', 'anchor_update']);
    expect(fake.activeSubscriptions()).toBe(0);
  });

  it("on('error') gets server error frames once and client errors as error frames", async () => {
    const ws = new compat.StellarInsightsWebSocket();
    const seen: unknown[] = [];
    ws.on('error', (m) => seen.push(m));
    ws.connect();
    await settle();
    fake.emit({ type: 'error', message: 'bad topic', code: 'invalid_topic' });
    fake.emitError({ code: 'server_error', message: 'bad topic' });
    fake.emitError({ code: 'socket_error', message: 'connection lost' });
    expect(seen).toEqual([
      { type: 'error', message: 'bad topic', code: 'invalid_topic' },
      { type: 'error', message: 'connection lost', code: 'socket_error' },
    ]);
  });

  it('ping() and disconnect() act on the shared client; resetWebSocketInstance() disconnects and forgets', async () => {
    const ws = compat.getWebSocketInstance();
    ws.connect();
    await settle();
    ws.ping();
    compat.resetWebSocketInstance();
    await settle();
    expect(fake.calls).toEqual(['connect', 'ping', 'disconnect']);
    expect(fake.refcount).toBe(0);
    expect(compat.getWebSocketInstance()).not.toBe(ws);
  });

  it('passes its config to the client and refuses a different URL than a mounted consumer holds', async () => {
    const a = new compat.StellarInsightsWebSocket({ url: 'ws://a:1/ws', maxReconnectAttempts: 3 });
    a.connect();
    await settle();
    expect(fake.configured.at(-1)).toEqual({ url: 'ws://a:1/ws', maxReconnectAttempts: 3 });
    const errors: string[] = [];
    new compat.StellarInsightsWebSocket().onAny((m) => m.type === 'error' && errors.push(m.message));
    new compat.StellarInsightsWebSocket({ url: 'ws://b:2/ws' }).connect();
    await settle();
    expect(errors).toEqual([`two consumers of the page's one socket ask for different url: "ws://a:1/ws" and "ws://b:2/ws"; set connection options once per page`]);
    expect(fake.refcount).toBe(1);
  });

  it('the compat message types are accepted by the hook options (old components type-check)', () => {
    const handler: WsEventHandler = () => undefined;
    const options: Parameters<typeof react.useWebSocket>[0] = { onMessage: handler, onError: (e: string) => void e };
    expect(typeof options.onMessage).toBe('function');
  });
});
