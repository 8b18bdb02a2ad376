// A small fake Stellar Horizon on loopback for the e2e suite, in Horizon's
// JSON format (the idea of server/tests/ingest.rs's fake, kept to what the
// dashboard shows): `/payments` pages (`join=transactions`, `_links.next`),
// `/payments` as Horizon's event stream (`Accept: text/event-stream`: `retry:`,
// `event: open` / `data: "hello"`, then `id: <paging_token>` / `data: <record>`
// per payment, kept open) and `/trade_aggregations` against USDC. Records can
// be added while it runs; open streams send them, so a test can watch them
// reach the page live.
import { createServer } from 'node:http';

/** Circle's USDC issuer on the public network (what the server prices against). */
export const USDC_ISSUER = 'GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN';
/** An EURC issuer: EURC has no trades against USDC here, so it has no USD price. */
export const EURC_ISSUER = 'GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2';

/** Operation id (TOID) of operation 1 of transaction 1 in ledger `ledger`. */
const toid = (ledger) => ((BigInt(ledger) << 32n) | (1n << 12n) | 1n).toString();

/**
 * `TransactionResult` XDR (base64) of a transaction whose one operation of
 * type `opType` returned `code`; `code` 0 is a success.
 */
function resultXdr(opType, code) {
  const words = code === 0 ? [0, 1, 0, opType, 0, 0] : [-1, 1, 0, opType, code, 0];
  const b = Buffer.alloc(8 + words.length * 4);
  b.writeBigInt64BE(100n, 0); // fee charged
  words.forEach((w, i) => b.writeInt32BE(w, 8 + i * 4));
  return b.toString('base64');
}

const OP_TYPE = { payment: 1, path_payment_strict_receive: 2, path_payment_strict_send: 13 };

const asset = (prefix, a) =>
  a === 'XLM' ? { [`${prefix}asset_type`]: 'native' } : { [`${prefix}asset_type`]: 'credit_alphanum4', [`${prefix}asset_code`]: a.code, [`${prefix}asset_issuer`]: a.issuer };

/** Assets of the fixture. */
export const USDC = { code: 'USDC', issuer: USDC_ISSUER };
export const EURC = { code: 'EURC', issuer: EURC_ISSUER };
export const XLM = 'XLM';

/**
 * A `/payments` record as Horizon returns it with `join=transactions`.
 * `failure`: the operation's result code (negative) for a failed transaction.
 */
export function payment({ ledger, kind = 'payment', at, dest, amount, source, sourceAmount, failure }) {
  const id = toid(ledger);
  const ok = failure === undefined;
  const hash = ledger.toString(16).padStart(64, '0');
  return {
    _links: { self: { href: `/operations/${id}` } },
    id,
    paging_token: id,
    type: kind,
    type_i: OP_TYPE[kind],
    created_at: at,
    transaction_hash: hash,
    transaction_successful: ok,
    from: 'GBXGQJWVLWOYHFLVTKWV5FGHA3LNYY2JQKM7OAJAUEQFU6LPCSEFVXON',
    to: 'GAXTGVNWM7PYNSJOBCAJMMZ3UGEOUAHKFGTKR3VORMNCUJBKJLRZT7X5',
    ...asset('', dest),
    amount,
    ...(kind === 'payment' ? {} : { ...asset('source_', source), source_amount: sourceAmount }),
    transaction: { hash, successful: ok, result_xdr: resultXdr(OP_TYPE[kind], ok ? 0 : failure) },
  };
}

/**
 * Starts the fake on a free loopback port. `records` in paging order;
 * `add(record)` appends one. XLM trades at 0.10 USDC; nothing else trades.
 */
export async function startFakeHorizon(records) {
  const all = [...records];
  const seen = { payments: 0, streams: 0, tradeAggregations: 0 };
  /** Open event streams: each is sent every record added. */
  const streams = new Set();
  const event = (r) => `id: ${r.paging_token}\ndata: ${JSON.stringify(r)}\n\n`;
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://fake');
    const send = (body) => {
      res.writeHead(200, { 'content-type': 'application/hal+json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/payments' && (req.headers.accept ?? '').includes('text/event-stream')) {
      seen.streams++;
      // Horizon resumes from Last-Event-ID when given, else from cursor.
      const from = req.headers['last-event-id'] ?? url.searchParams.get('cursor') ?? '0';
      const after = BigInt(/^\d+$/.test(from) ? from : '0');
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write('retry: 1000\nevent: open\ndata: "hello"\n\n');
      for (const r of all.filter((r) => BigInt(r.paging_token) > after)) res.write(event(r));
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (url.pathname === '/payments') {
      seen.payments++;
      const cursor = url.searchParams.get('cursor') ?? '0';
      const after = BigInt(/^\d+$/.test(cursor) ? cursor : '0');
      const page = all.filter((r) => BigInt(r.paging_token) > after).slice(0, Number(url.searchParams.get('limit') ?? 10));
      const next = page.length ? page[page.length - 1].paging_token : cursor;
      const link = (c) => ({ href: `${base}/payments?cursor=${c}&order=asc&limit=200&include_failed=true&join=transactions` });
      return send({ _links: { self: link(cursor), next: link(next), prev: link(cursor) }, _embedded: { records: page } });
    }
    if (url.pathname === '/trade_aggregations') {
      seen.tradeAggregations++;
      const native = url.searchParams.get('base_asset_type') === 'native';
      const records = native
        ? [{ timestamp: '1796029200000', trade_count: '12', base_volume: '1000.0000000', counter_volume: '100.0000000', avg: '0.1000000', high: '0.1000000', low: '0.1000000', open: '0.1000000', close: '0.1000000' }]
        : [];
      return send({ _links: {}, _embedded: { records } });
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'https://stellar.org/horizon-errors/not_found', title: 'Resource Missing', status: 404 }));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    seen,
    add: (record) => {
      all.push(record);
      for (const res of streams) res.write(event(record));
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
