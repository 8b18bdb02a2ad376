import { ConfigError, envClientOptions, hasConnectionOptions, mergeClientOptions } from './config';

const exportPage = { protocol: 'http:', port: '41234' };

describe('envClientOptions', () => {
  it('passes NEXT_PUBLIC_WS_URL to the client as envUrl and sets no port', () => {
    expect(envClientOptions({ wsUrl: 'wss://example.test/ws' }, exportPage, false)).toEqual({ envUrl: 'wss://example.test/ws' });
  });

  it('uses NEXT_PUBLIC_WS_PORT over the page port', () => {
    expect(envClientOptions({ wsPort: '9000' }, exportPage, false)).toEqual({ port: 9000 });
  });

  it('defaults to the page own port in the static export (same origin serves /ws)', () => {
    expect(envClientOptions({}, exportPage, false)).toEqual({ port: 41234 });
    expect(envClientOptions({}, { protocol: 'https:', port: '' }, false)).toEqual({ port: 443 });
    expect(envClientOptions({}, { protocol: 'http:', port: '' }, false)).toEqual({ port: 80 });
  });

  it('defaults to the server port 8080 under next dev', () => {
    expect(envClientOptions({}, { protocol: 'http:', port: '3000' }, true)).toEqual({ port: 8080 });
  });

  it('treats empty variables as unset and passes the token through', () => {
    expect(envClientOptions({ wsUrl: ' ', wsPort: '', wsToken: 's3cret' }, exportPage, false)).toEqual({ port: 41234, token: 's3cret' });
  });

  it('rejects a port that is not a number from 1 to 65535 with a message naming the variable', () => {
    for (const bad of ['abc', '0', '70000', '80a', '-1']) {
      expect(() => envClientOptions({ wsPort: bad }, exportPage, false)).toThrow(ConfigError);
      expect(() => envClientOptions({ wsPort: bad }, exportPage, false)).toThrow(/NEXT_PUBLIC_WS_PORT .*"/);
    }
  });

  it('rejects a NEXT_PUBLIC_WS_URL that is not ws:// or wss://', () => {
    expect(() => envClientOptions({ wsUrl: 'http://x/ws' }, exportPage, false)).toThrow(/must start with ws:\/\/ or wss:\/\//);
  });
});

describe('mergeClientOptions', () => {
  it('lets hook options win over environment defaults', () => {
    const merged = mergeClientOptions({ port: 8080, token: 'env' }, { url: 'ws://h:1/ws', token: 'hook', maxReconnectAttempts: null, reconnectInterval: 250, autoReconnect: false });
    expect(merged).toEqual({ port: 8080, url: 'ws://h:1/ws', token: 'hook', maxReconnectAttempts: null, reconnectInterval: 250, autoReconnect: false });
  });

  it('rejects a non-positive reconnectInterval', () => {
    expect(() => mergeClientOptions({}, { reconnectInterval: 0 })).toThrow(/reconnectInterval must be a positive/);
  });

  it('counts only options that change the shared connection', () => {
    expect(hasConnectionOptions({})).toBe(false);
    expect(hasConnectionOptions({ maxReconnectAttempts: null })).toBe(true);
  });
});
