// When the updates a page missed are no longer retained by the server
// (UPDATE_LOG_RETENTION=1), the server answers the resume with
// resync_required and the page must reload its data through REST.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { api, freePort, launchBrowser, openPage, randomAccount, screenshot, startServer, tempDir, waitFor, waitForState } from './harness.mjs';

const env = { UPDATE_LOG_RETENTION: '1' };
let server;
let browser;
let port;
let dbPath;

before(async () => {
  port = await freePort();
  dbPath = join(tempDir('www-resync-'), 'resync.db');
  server = await startServer({ port, dbPath, env });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a page that missed pruned updates reloads its data through REST on resync_required', async () => {
  const { context, page } = await openPage(browser);
  await page.goto(`${server.base}/`);
  await waitForState(page, 'open');
  const corridor = await api(server.base, 'POST', '/api/corridors', {
    source_asset_code: 'USDC', source_asset_issuer: randomAccount(), dest_asset_code: 'EURC', dest_asset_issuer: randomAccount(),
  });
  const row = page.locator(`[data-testid="corridor-row"][data-key="${corridor.corridor_key}"]`);
  await row.waitFor({ timeout: 2_000 });
  await page.evaluate(() => (window.__sameDocument = true));

  await server.stop();
  await waitForState(page, 'reconnecting', 10_000);
  await context.setOffline(true);
  server = await startServer({ port, dbPath, env });
  // Several writes while the page is away: with a retention of 1 the older
  // ones are pruned, so the page's resume point cannot be served.
  for (const [total, ok] of [[10, 1], [10, 2], [10, 3], [10, 4]]) {
    await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: total, successful_transactions: ok, volume_usd: 1 });
  }
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: 'Created While Away', stellar_account: randomAccount() });
  await context.setOffline(false);

  await waitForState(page, 'open', 40_000);
  await page.locator('[data-testid="message-log"] .type-resync_required').first().waitFor({ timeout: 10_000 });
  await waitFor(async () => (await row.locator('[data-col="success_rate"]').innerText()) === '40.00%', 5_000, 'the reloaded corridor');
  await page.locator(`[data-testid="anchor-row"][data-id="${anchor.id}"]`).waitFor({ timeout: 5_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the browser reloaded the page instead of the data');
  await screenshot(page, '08-resync');
  await context.close();
});
