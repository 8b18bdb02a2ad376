// With DEMO_MODE=true the server seeds and animates demo data; the page must
// say so plainly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { freePort, launchBrowser, openPage, screenshot, startServer, tempDir, waitForState } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ port: await freePort(), dbPath: join(tempDir('www-demo-'), 'demo.db'), env: { DEMO_MODE: 'true', DEMO_TICK_MS: '300' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('demo data is labelled as demo when /health says demo', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${server.base}/`);
  await waitForState(page, 'open');
  const banner = page.getByTestId('demo-banner');
  await banner.waitFor({ timeout: 5_000 });
  assert.match(await banner.innerText(), /Demo data/);
  assert.equal(await page.getByTestId('data-source').innerText(), 'Source: demo');
  // Demo corridors have no ingestion details: attempts as total_transactions, no failure column.
  await page.locator('[data-testid="corridor-row"]').first().waitFor({ timeout: 5_000 });
  assert.equal(await page.getByRole('columnheader', { name: 'Top failure' }).count(), 0);
  assert.equal(await page.getByText('no price').count(), 0);
  await page.waitForTimeout(2_000);
  await screenshot(page, '09-demo');
  assert.deepEqual(problems, []);
  await context.close();
});
