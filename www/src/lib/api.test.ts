import { INGEST_JSON } from '@/test/ingestFixture';
import { ApiError, getJson, loadDashboard, loadHistory } from './api';

const respond = (status: number, body: string) => (async () => new Response(body, { status })) as unknown as typeof fetch;

describe('REST client', () => {
  it('returns the parsed JSON of a 2xx answer', async () => {
    await expect(getJson('/health', '', respond(200, '{"status":"ok","demo":true}'))).resolves.toEqual({ status: 'ok', demo: true });
  });

  it("turns a 4xx into an ApiError with the server's message and field", async () => {
    const error = await getJson('/api/anchors/x', '', respond(404, '{"error":"anchor not found","field":"id"}')).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ message: 'GET /api/anchors/x: anchor not found', status: 404, field: 'id' });
  });

  it('reports a body that is not JSON instead of throwing a SyntaxError', async () => {
    await expect(getJson('/api/corridors', '', respond(502, '<html>bad gateway</html>'))).rejects.toThrow('GET /api/corridors: HTTP 502, body is not JSON');
  });

  it('reports an unreachable server', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    await expect(getJson('/health', '', failing)).rejects.toThrow('server unreachable (fetch failed)');
  });

  it('rejects a list endpoint that does not answer an array', async () => {
    const fetchImpl = (async (url: string) => new Response(url.endsWith('/api/corridors') ? '{"oops":1}' : url.endsWith('/health') ? '{}' : '[]')) as unknown as typeof fetch;
    await expect(loadDashboard('', fetchImpl)).rejects.toThrow('GET /api/corridors: expected a JSON array');
  });

  /** A server whose /health names `source`; records the paths asked. */
  function server(source: string, ingestBody = INGEST_JSON) {
    const asked: string[] = [];
    const fetchImpl = (async (url: string) => {
      asked.push(url);
      if (url === '/health') return new Response(JSON.stringify({ status: 'ok', demo: source === 'demo', source }));
      return new Response(url === '/api/ingest/corridors' ? ingestBody : '[]');
    }) as unknown as typeof fetch;
    return { asked, fetchImpl };
  }

  it('asks /api/ingest/corridors only when /health names a Horizon source', async () => {
    for (const source of ['rest', 'demo']) {
      const { asked, fetchImpl } = server(source);
      const data = await loadDashboard('', fetchImpl);
      expect(asked).not.toContain('/api/ingest/corridors');
      expect(data.ingest).toBeUndefined();
    }
    const { asked, fetchImpl } = server('horizon-testnet');
    const first = await loadDashboard('', fetchImpl);
    const second = await loadDashboard('', fetchImpl);
    expect(asked.filter((p) => p === '/api/ingest/corridors')).toHaveLength(2);
    expect(first.ingest!.corridors.map((r) => r.top_failure_reason)).toEqual([null, 'op_underfunded', 'op_too_few_offers']);
    expect(second.ingest!.ticket).toBeGreaterThan(first.ingest!.ticket);
  });

  it('rejects an ingestion answer that is not an array', async () => {
    await expect(loadDashboard('', server('horizon-public', '{"corridors":[]}').fetchImpl)).rejects.toThrow('GET /api/ingest/corridors: expected a JSON array');
  });

  it('reads the corridors\' history for the last hour, and an unusable answer as no history', async () => {
    const history = { minutes: 60, step_ms: 10000, corridors: { 'A:GA->B:GB': [{ t: 1, success_rate: 50, volume_usd: 2, total_transactions: 4 }] } };
    const asked: string[] = [];
    const fetchImpl = (async (url: string) => {
      asked.push(url);
      return new Response(url.startsWith('/api/corridors/history') ? JSON.stringify(history) : url === '/health' ? '{}' : '[]');
    }) as unknown as typeof fetch;
    expect((await loadDashboard('', fetchImpl)).history).toEqual(history.corridors);
    expect(asked).toContain('/api/corridors/history?minutes=60');
    expect(await loadHistory('', respond(500, '{"error":"internal error"}'))).toEqual({});
    expect(await loadHistory('', respond(200, '{"corridors":[1]}'))).toEqual({});
  });
});
