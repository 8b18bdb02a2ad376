// With INGEST=horizon the real server ingests payments from a fake Horizon on
// loopback (e2e/fake-horizon.mjs); the page must name the source and show,
// per corridor, the ingestion's success rate, USD volume or "no price",
// attempts and top failure reason, and follow a payment ingested live.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { EURC, USDC, XLM, payment, startFakeHorizon } from './fake-horizon.mjs';
import { api, freePort, launchBrowser, openPage, screenshot, startServer, tempDir, waitFor, waitForState } from './harness.mjs';

const key = (a) => (a === XLM ? 'XLM:native' : `${a.code}:${a.issuer}`);
const USDC_USDC = `${key(USDC)}->${key(USDC)}`;
const XLM_USDC = `${key(XLM)}->${key(USDC)}`;
const EURC_EURC = `${key(EURC)}->${key(EURC)}`;

// Worked out by hand: USDC→USDC 1 of 2 ($10, one op_underfunded); XLM→USDC
// 1 of 2 (9.9 USDC received = $9.90, one op_too_few_offers); EURC→EURC 1 of 1,
// EURC has no trades against USDC: no price.
const FIXTURE = [
  payment({ ledger: 100, at: '2026-11-30T10:00:05Z', dest: USDC, amount: '10.0000000' }),
  payment({ ledger: 101, at: '2026-11-30T10:00:40Z', dest: USDC, amount: '5.0000000', failure: -2 }),
  payment({ ledger: 102, kind: 'path_payment_strict_send', at: '2026-11-30T10:30:00Z', source: XLM, sourceAmount: '100.0000000', dest: USDC, amount: '9.9000000' }),
  payment({ ledger: 103, kind: 'path_payment_strict_send', at: '2026-11-30T10:31:00Z', source: XLM, sourceAmount: '50.0000000', dest: USDC, amount: '0.0000000', failure: -10 }),
  payment({ ledger: 104, at: '2026-11-30T10:45:00Z', dest: EURC, amount: '3.0000000' }),
];

let fake;
let server;
let browser;

before(async () => {
  fake = await startFakeHorizon(FIXTURE);
  server = await startServer({
    port: await freePort(),
    dbPath: join(tempDir('www-horizon-'), 'horizon.db'),
    env: { INGEST: 'horizon', HORIZON_URL: fake.base, INGEST_START: '0', HORIZON_POLL_MS: '100', INGEST_FLUSH_MS: '200', HORIZON_REQUESTS_PER_HOUR: '360000' },
  });
  // The whole fixture is ingested (and committed) before any page opens.
  await waitFor(async () => (await api(server.base, 'GET', '/api/ingest/corridors')).length === 3, 30_000, 'three ingested corridors');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await fake?.close();
});

async function openDashboard(t) {
  const opened = await openPage(browser);
  t.after(() => opened.context.close());
  await opened.page.goto(`${server.base}/`);
  await waitForState(opened.page, 'open');
  return opened;
}

/** The cells the dashboard shows for one corridor. */
async function cells(page, corridorKey) {
  const row = page.locator(`[data-testid="corridor-row"][data-key="${corridorKey}"]`);
  await row.waitFor({ timeout: 5_000 });
  const text = (col) => row.locator(`[data-col="${col}"]`).innerText();
  return {
    rate: await text('success_rate'),
    volume: await text('volume_usd'),
    attempts: await text('total_transactions'),
    failure: await text('top_failure_reason'),
  };
}

test('the header names Horizon public and each corridor row shows the ingested figures', async (t) => {
  assert.equal((await api(server.base, 'GET', '/health')).source, 'horizon-public');
  const { page, problems } = await openDashboard(t);
  assert.equal(await page.getByTestId('data-source').innerText(), 'Source: Horizon public');
  assert.equal(await page.getByTestId('demo-banner').count(), 0);
  assert.equal(await page.getByRole('columnheader', { name: 'Top failure' }).count(), 1);
  // Failure reasons come from a second request after /health: wait for them.
  await waitFor(async () => (await cells(page, USDC_USDC)).failure === 'op_underfunded', 5_000, 'the USDC→USDC failure reason');
  assert.deepEqual(await cells(page, USDC_USDC), { rate: '50.00%', volume: '$10', attempts: '2', failure: 'op_underfunded' });
  assert.deepEqual(await cells(page, XLM_USDC), { rate: '50.00%', volume: '$10', attempts: '2', failure: 'op_too_few_offers' });
  assert.deepEqual(await cells(page, EURC_EURC), { rate: '100.00%', volume: 'no price', attempts: '1', failure: '—' });
  await screenshot(page, '10-horizon');
  assert.deepEqual(problems, []);
});

test('a failed payment ingested while the page is open updates its row and top failure reason live', async (t) => {
  const { page, problems } = await openDashboard(t);
  await page.evaluate(() => (window.__sameDocument = true));
  await waitFor(async () => (await cells(page, EURC_EURC)).attempts === '1', 5_000, 'EURC→EURC at 1 attempt');
  // EURC payment to an account without a trustline: op_no_trust (-6).
  fake.add(payment({ ledger: 105, at: '2026-11-30T10:50:00Z', dest: EURC, amount: '2.0000000', failure: -6 }));
  await waitFor(async () => (await cells(page, EURC_EURC)).failure === 'op_no_trust', 10_000, 'op_no_trust on the EURC→EURC row');
  assert.deepEqual(await cells(page, EURC_EURC), { rate: '50.00%', volume: 'no price', attempts: '2', failure: 'op_no_trust' });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  // The other rows kept their figures.
  assert.deepEqual(await cells(page, USDC_USDC), { rate: '50.00%', volume: '$10', attempts: '2', failure: 'op_underfunded' });
  await screenshot(page, '11-horizon-live');
  assert.deepEqual(problems, []);
});

test('an unpriced corridor says "no price" in the message log and has no volume line in the chart, never $0', async (t) => {
  const { page, problems } = await openDashboard(t);
  await waitFor(async () => (await cells(page, EURC_EURC)).volume === 'no price', 5_000, 'EURC→EURC known as unpriced');
  // A successful EURC payment ingested live: its corridor_update frame says volume_usd 0.
  fake.add(payment({ ledger: 106, at: '2026-11-30T10:55:00Z', dest: EURC, amount: '4.0000000' }));
  const log = page.getByTestId('message-log');
  const line = log.locator('li', { hasText: 'EURC:GDHU6…NPP2 → EURC:GDHU6…NPP2' }).first();
  await line.waitFor({ timeout: 10_000 });
  const text = await line.innerText();
  // 2 of 3 succeeded: the earlier test added a failed one.
  assert.match(text, /66\.67% of 3 tx, no price/);
  assert.doesNotMatch(text, /\$0/);
  // The chart of that corridor: a success-rate line, but no volume series.
  await page.locator('label.select select').selectOption(EURC_EURC);
  await page.getByRole('button', { name: 'Volume' }).click();
  await page.getByTestId('chart-no-price').waitFor({ timeout: 5_000 });
  assert.equal(await page.getByTestId('live-chart').count(), 0);
  // A priced corridor still charts its dollars.
  await page.locator('label.select select').selectOption(USDC_USDC);
  assert.equal(await page.getByTestId('chart-last').innerText(), '$10');
  await screenshot(page, '12-horizon-no-price');
  assert.deepEqual(problems, []);
});
