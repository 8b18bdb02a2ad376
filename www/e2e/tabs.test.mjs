// End-to-end: the dashboard open in three tabs of one browser (one
// context) shares one WebSocket (shareAcrossTabs, the default); the tabs
// that receive through another one say so discreetly, and a live update
// reaches all three.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { api, freePort, launchBrowser, metric, randomAccount, screenshot, startServer, tempDir, waitFor, waitForState } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ port: await freePort(), dbPath: join(tempDir('www-tabs-'), 'e2e.db') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// scripts/test-www.sh runs the suite again on an export built with
// NEXT_PUBLIC_WS_SHARE_TABS=false and says so with E2E_SHARE_TABS=false: then
// every tab must have a socket of its own and no tab may say it is live via another.
const sharing = process.env.E2E_SHARE_TABS !== 'false';

test(sharing
  ? 'three dashboard tabs share one socket; followers show "live via another tab"; updates reach all'
  : 'built with NEXT_PUBLIC_WS_SHARE_TABS=false: three dashboard tabs, three sockets, no "live via another tab"; updates reach all', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.after(() => context.close());
  const pages = [];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    await page.goto(`${server.base}/`);
    await waitForState(page, 'open');
    pages.push(page);
  }
  const sockets = sharing ? 1 : 3;
  await waitFor(async () => (await metric(server.base, 'stellar_ws_connections_open')) === sockets, 5_000, `${sockets} connection(s) for three tabs`);
  const shared = await Promise.all(pages.map((p) => p.getByTestId('shared-via').count()));
  if (sharing) assert.deepEqual(shared, [0, 1, 1], 'the first tab leads, the two others say they are live via another tab');
  else assert.deepEqual(shared, [0, 0, 0], 'no tab is live via another when sharing is off');
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: 'Shared Tab Anchor', stellar_account: randomAccount(), home_domain: 'tabs.example' });
  for (const page of pages) {
    await page.locator('[data-testid="anchor-row"]', { hasText: 'Shared Tab Anchor' }).first().waitFor({ timeout: 5_000 });
  }
  void anchor;
  if (sharing) await screenshot(pages[1], '09-live-via-another-tab');
});
