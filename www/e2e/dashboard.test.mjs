// End-to-end: the built static export, served by the real server, in real
// Chromium. One server (temporary SQLite DB, free port) for the file; each
// test opens its own page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { api, freePort, launchBrowser, metric, openPage, randomAccount, screenshot, sleep, startServer, tempDir, waitFor, waitForState } from './harness.mjs';

let server;
let browser;
let port;
let dbPath;

before(async () => {
  port = await freePort();
  dbPath = join(tempDir('www-e2e-'), 'e2e.db');
  server = await startServer({ port, dbPath });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// The page's context is closed even when the test fails, so a failed test
// leaves no socket open behind it for the next one.
async function loadDashboard(t, viewport) {
  const opened = await openPage(browser, viewport);
  t.after(() => opened.context.close());
  await opened.page.goto(`${server.base}/`);
  await waitForState(opened.page, 'open');
  return opened;
}

async function newCorridor() {
  return api(server.base, 'POST', '/api/corridors', {
    source_asset_code: 'USDC',
    source_asset_issuer: randomAccount(),
    dest_asset_code: 'EURC',
    dest_asset_issuer: randomAccount(),
  });
}

test('the page loads from the server and shows Connected', async (t) => {
  const { page, problems } = await loadDashboard(t);
  assert.equal(await page.getByTestId('connection-status').innerText(), 'Connected');
  assert.equal(await page.locator('h1').innerText(), 'Stellar Insights');
  // REST writes feed this server: the header says so, and rows have no failure column.
  assert.equal(await page.getByTestId('data-source').innerText(), 'Source: REST');
  assert.equal(await page.getByTestId('demo-banner').count(), 0);
  await newCorridor();
  await page.locator('[data-testid="corridor-row"]').first().waitFor({ timeout: 2_000 });
  assert.equal(await page.getByRole('columnheader', { name: 'Top failure' }).count(), 0);
  assert.equal(await page.locator('[data-col="top_failure_reason"]').count(), 0);
  await screenshot(page, '01-connected');
  assert.deepEqual(problems, []);
});

test('an anchor created through POST /api/anchors appears within 2 s without a reload', async (t) => {
  const { page, problems } = await loadDashboard(t);
  await page.evaluate(() => (window.__sameDocument = true));
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: 'Live Anchor Ltd', stellar_account: randomAccount(), home_domain: 'live.example' });
  const row = page.locator(`[data-testid="anchor-row"][data-id="${anchor.id}"]`);
  await row.waitFor({ timeout: 2_000 });
  assert.equal(await row.locator('[data-col="name"]').innerText(), 'Live Anchor Ltd');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  // The account is not in the live update: the page fetches it once.
  await waitFor(async () => (await row.locator(`[data-col="account"]`).innerText()) === `${anchor.stellar_account.slice(0, 5)}…${anchor.stellar_account.slice(-4)}`, 5_000, 'the shortened account');
  await screenshot(page, '02-anchor-created');
  assert.deepEqual(problems, []);
});

test('a PUT of corridor metrics updates the corridor row live', async (t) => {
  const { page, problems } = await loadDashboard(t);
  const corridor = await newCorridor();
  const row = page.locator(`[data-testid="corridor-row"][data-key="${corridor.corridor_key}"]`);
  await row.waitFor({ timeout: 2_000 });
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 200, successful_transactions: 150, volume_usd: 12345.4 });
  await waitFor(async () => (await row.locator('[data-col="success_rate"]').innerText()) === '75.00%', 2_000, 'success rate 75.00%');
  assert.equal(await row.locator('[data-col="volume_usd"]').innerText(), '$12,345');
  assert.equal(await row.locator('[data-col="total_transactions"]').innerText(), '200');
  await screenshot(page, '03-corridor-updated');
  assert.deepEqual(problems, []);
});

test('after a server restart the page shows reconnecting, then connected, and receives the update written during the outage', async (t) => {
  const { page, context } = await loadDashboard(t);
  const corridor = await newCorridor();
  const row = page.locator(`[data-testid="corridor-row"][data-key="${corridor.corridor_key}"]`);
  await row.waitFor({ timeout: 2_000 });
  await page.evaluate(() => (window.__sameDocument = true));

  await server.stop();
  await waitForState(page, 'reconnecting', 10_000);
  assert.match(await page.getByTestId('connection-status').innerText(), /^Reconnecting/);
  await screenshot(page, '04a-reconnecting');

  // Keep the browser away from the server until the write is done, so the
  // update can only reach it by the resume after reconnecting.
  await context.setOffline(true);
  server = await startServer({ port, dbPath });
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 10, successful_transactions: 9, volume_usd: 500 });
  await context.setOffline(false);

  await waitForState(page, 'open', 40_000);
  await waitFor(async () => (await row.locator('[data-col="success_rate"]').innerText()) === '90.00%', 5_000, 'the update written during the outage');
  // It came by replay on a resumed connection, not by a REST reload.
  await page.locator('[data-testid="message-log"] li', { hasText: 'resumed' }).first().waitFor({ timeout: 2_000 });
  assert.equal(await page.locator('[data-testid="message-log"] .type-resync_required').count(), 0);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  await screenshot(page, '04b-reconnected');
});

test('a hostile anchor name is rendered as text and runs nothing', async (t) => {
  const { page, problems } = await loadDashboard(t);
  const hostile = '<img src=x onerror=alert(1)>';
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: hostile, stellar_account: randomAccount() });
  const name = page.locator(`[data-testid="anchor-row"][data-id="${anchor.id}"] [data-col="name"]`);
  await name.waitFor({ timeout: 2_000 });
  assert.equal(await name.textContent(), hostile);
  // After a reload it comes through REST: still text.
  await page.reload();
  await waitForState(page, 'open');
  await name.waitFor({ timeout: 5_000 });
  assert.equal(await name.textContent(), hostile);
  assert.equal(await page.locator('main img').count(), 0);
  await screenshot(page, '05-hostile-name');
  assert.deepEqual(problems, []);
});

test('a phone-width page shows every section without console errors', async (t) => {
  const { page, problems } = await loadDashboard(t, { width: 390, height: 844 });
  const corridor = await newCorridor();
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 50, successful_transactions: 49, volume_usd: 777 });
  await api(server.base, 'POST', '/api/snapshots', {});
  await page.getByTestId('snapshot-row').first().waitFor({ timeout: 2_000 });
  for (const heading of ['Corridors', 'Live chart', 'Anchors', 'Latest snapshots', 'Messages']) {
    assert.equal(await page.getByRole('heading', { name: heading }).isVisible(), true, heading);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  await screenshot(page, '06-phone');
  assert.deepEqual(problems, []);
});

test('the dashboard logs no console errors through load, live updates and a snapshot', async (t) => {
  const { page, problems } = await loadDashboard(t);
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: 'Quiet Anchor', stellar_account: randomAccount() });
  await api(server.base, 'PUT', `/api/anchors/${anchor.id}/metrics`, { total_transactions: 100, successful_transactions: 90, failed_transactions: 10 });
  const corridor = await newCorridor();
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 20, successful_transactions: 19, volume_usd: 10 });
  const snapshot = await api(server.base, 'POST', '/api/snapshots');
  const anchorRow = page.locator(`[data-testid="anchor-row"][data-id="${anchor.id}"]`);
  await waitFor(async () => (await anchorRow.locator('[data-col="status"]').innerText()) === 'Degraded', 2_000, 'the anchor status badge');
  await page.getByTestId('snapshot-row').filter({ hasText: snapshot.hash.slice(0, 10) }).waitFor({ timeout: 2_000 });
  await page.waitForTimeout(500);
  await screenshot(page, '07-no-console-errors');
  assert.deepEqual(problems, []);
});

test('a burst of 100 corridor updates ends showing the last one, with every message logged in order', async (t) => {
  const { page, problems } = await loadDashboard(t);
  const corridor = await newCorridor();
  const row = page.locator(`[data-testid="corridor-row"][data-key="${corridor.corridor_key}"]`);
  await row.waitFor({ timeout: 2_000 });
  // Bounded: 100 writes to the loopback server, one after another so their
  // order (and so the order the page must show) is known.
  for (let i = 0; i < 100; i++) {
    await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 1000 + i, successful_transactions: 900, volume_usd: i });
  }
  const last = await api(server.base, 'GET', `/api/corridors/${corridor.id}`);
  await waitFor(async () => (await row.locator('[data-col="total_transactions"]').innerText()) === last.total_transactions.toLocaleString('en-US'), 5_000, 'the last update of the burst');
  // The log keeps the newest 50 lines, newest first: they must be 50 consecutive updates.
  const seen = await page.locator('[data-testid="message-log"] li .text').allInnerTexts();
  const totals = seen.map((t) => Number(/of (\d+) tx/.exec(t)?.[1])).filter((n) => n >= 1000);
  assert.equal(totals.length, 50);
  assert.deepEqual(totals, Array.from({ length: 50 }, (_, i) => 1099 - i));
  assert.equal(last.total_transactions, 1099);
  await screenshot(page, '11-burst');
  assert.deepEqual(problems, []);
});

test('one page holds exactly one socket on the server', async (t) => {
  await waitFor(async () => (await metric(server.base, 'stellar_ws_connections_open')) === 0, 10_000, 'no sockets left from earlier tests');
  const { page, problems } = await loadDashboard(t);
  await page.waitForTimeout(1_500);
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1);
  assert.deepEqual(problems, []);
});

test('the live chart opens with the corridor\'s last hour from the server, and its row has a sparkline of it', async (t) => {
  // The creation and the first write share a step: not in the last second of one.
  if (Date.now() % 10_000 > 9_000) await sleep(10_000 - (Date.now() % 10_000) + 150);
  const c = await newCorridor();
  // Three values in three 10 s steps of the server's history (it keeps the newest value per step;
  // the creation shares the first step and is replaced).
  const values = [[10, 9], [20, 15], [40, 38]];
  for (const [i, [total, ok]] of values.entries()) {
    await api(server.base, 'PUT', `/api/corridors/${c.id}/metrics`, { total_transactions: total, successful_transactions: ok, volume_usd: total * 10 });
    if (i < values.length - 1) await sleep(10_000 - (Date.now() % 10_000) + 150);
  }
  const history = await api(server.base, 'GET', `/api/corridors/${encodeURIComponent(c.corridor_key)}/history?minutes=60`);
  assert.deepEqual(history.points.map((p) => p.success_rate), [90, 75, 95]);

  const { page, problems } = await loadDashboard(t);
  await page.locator('label.select select').selectOption(c.corridor_key);
  const chart = page.getByTestId('live-chart');
  // The chart starts with the three history points, not with one.
  await waitFor(async () => (await chart.locator('circle').count()) === 3, 5_000, 'three history points in the chart');
  assert.equal(await page.getByTestId('chart-last').innerText(), '95.00%');
  const spark = page.locator(`[data-testid="corridor-row"][data-key="${c.corridor_key}"] [data-testid="sparkline"]`);
  assert.equal(await spark.getAttribute('data-points'), '3');
  // Every row has its sparkline cell.
  const rows = await page.locator('[data-testid="corridor-row"]').count();
  assert.equal(await page.locator('[data-testid="corridor-row"] [data-col="sparkline"]').count(), rows);
  // A live update adds a point to both.
  await api(server.base, 'PUT', `/api/corridors/${c.id}/metrics`, { total_transactions: 50, successful_transactions: 50, volume_usd: 500 });
  await waitFor(async () => (await chart.locator('circle').count()) === 4, 5_000, 'the live point after the history');
  assert.equal(await page.getByTestId('chart-last').innerText(), '100.00%');
  await waitFor(async () => (await spark.getAttribute('data-points')) === '4', 5_000, 'the live point in the sparkline');
  await screenshot(page, '13-history');
  assert.deepEqual(problems, []);
});
