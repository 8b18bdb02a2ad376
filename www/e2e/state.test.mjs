// End-to-end, state on subscribe: the dashboard's corridor and anchor tables
// come from the client's keyed state (current records on connect, then field
// deltas), not from a REST reload and a replay. The built export, served by
// the real server, in real Chromium, while REST writes stream in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { api, freePort, launchBrowser, openPage, randomAccount, screenshot, sleep, startServer, tempDir, waitFor, waitForState } from './harness.mjs';

let server;
let browser;

before(async () => {
  const port = await freePort();
  server = await startServer({ port, dbPath: join(tempDir('www-state-'), 'e2e.db') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

/**
 * Writes metrics of random corridors and anchors at `perSecond` until the
 * returned function is called; that resolves once every write answered.
 * Totals and successes are random, so consecutive values differ.
 */
function streamWrites(corridors, anchors, perSecond) {
  let running = true;
  let writes = 0;
  const inFlight = new Set();
  const loop = (async () => {
    const started = Date.now();
    while (running) {
      const i = writes++;
      const total = 1 + Math.floor(Math.random() * 100_000);
      const ok = Math.floor(Math.random() * (total + 1));
      const write =
        i % 3 === 2
          ? api(server.base, 'PUT', `/api/anchors/${anchors[i % anchors.length].id}/metrics`, { total_transactions: total, successful_transactions: ok, failed_transactions: total - ok })
          : api(server.base, 'PUT', `/api/corridors/${corridors[i % corridors.length].id}/metrics`, { total_transactions: total, successful_transactions: ok, volume_usd: Math.random() * 1e7 });
      inFlight.add(write);
      write.finally(() => inFlight.delete(write));
      const due = started + ((i + 1) * 1000) / perSecond;
      await sleep(Math.max(0, due - Date.now()));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await Promise.all([...inFlight]);
    return writes;
  };
}

/** What the tables show, as text per row. */
async function shown(page) {
  return page.evaluate(() => {
    const text = (row, col) => row.querySelector(`[data-col="${col}"]`)?.textContent ?? null;
    const corridors = {};
    for (const row of document.querySelectorAll('[data-testid="corridor-row"]')) {
      corridors[row.dataset.key] = [text(row, 'success_rate'), text(row, 'volume_usd'), text(row, 'total_transactions')];
    }
    const anchors = {};
    for (const row of document.querySelectorAll('[data-testid="anchor-row"]')) {
      anchors[row.dataset.id] = [text(row, 'name'), text(row, 'reliability_score'), text(row, 'status')];
    }
    return { corridors, anchors };
  });
}

const STATUS_TEXT = { green: 'Healthy', yellow: 'Degraded', red: 'Failing' };

/** The same, from REST: the database's values formatted as the tables format them. */
async function expected() {
  const corridors = {};
  for (const c of await api(server.base, 'GET', '/api/corridors')) {
    corridors[c.corridor_key] = [`${c.success_rate.toFixed(2)}%`, usd.format(c.volume_usd), c.total_transactions.toLocaleString('en-US')];
  }
  const anchors = {};
  for (const a of await api(server.base, 'GET', '/api/anchors')) anchors[a.id] = [a.name, a.reliability_score.toFixed(2), STATUS_TEXT[a.status]];
  return { corridors, anchors };
}

test('the dashboard opened while writes stream at 50/s shows exactly the database values when writes stop, without a REST reload of the tables', async (t) => {
  const corridors = [];
  for (let i = 0; i < 12; i++) {
    corridors.push(await api(server.base, 'POST', '/api/corridors', { source_asset_code: `ST${i}`, source_asset_issuer: randomAccount(), dest_asset_code: 'EURC', dest_asset_issuer: randomAccount() }));
  }
  const anchors = [];
  for (let i = 0; i < 8; i++) anchors.push(await api(server.base, 'POST', '/api/anchors', { name: `State Anchor ${i}`, stellar_account: randomAccount() }));

  const stop = streamWrites(corridors, anchors, 50);
  await sleep(1_000);
  const { context, page, problems } = await openPage(browser);
  t.after(() => context.close());
  const restReads = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path === '/api/corridors' || path === '/api/anchors') restReads.push(path);
  });
  await page.goto(`${server.base}/`);
  await waitForState(page, 'open');
  // Writes go on while the page shows them.
  await sleep(3_000);
  const writes = await stop();
  assert.ok(writes >= 150, `only ${writes} writes`);

  const want = await expected();
  assert.equal(Object.keys(want.corridors).length, 12);
  let got;
  await waitFor(async () => {
    got = await shown(page);
    return JSON.stringify(got) === JSON.stringify(want);
  }, 5_000, 'the tables to equal the database').catch(() => undefined);
  assert.deepEqual(got, want);
  // The tables came from the state answer, not from REST: the page read the
  // lists once, for the chart and the accounts, before the socket opened.
  assert.deepEqual(restReads.sort(), ['/api/anchors', '/api/corridors'], `REST lists read: ${restReads.join(', ')}`);
  await screenshot(page, '20-state-after-stream');
  assert.deepEqual(problems, []);
});
