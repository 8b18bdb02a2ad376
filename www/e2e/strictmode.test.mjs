// `next dev` runs React StrictMode (reactStrictMode: true), which mounts every
// effect twice. A production export cannot show this (StrictMode's double
// mount is development-only), so this test starts a real dev server against
// a real API server and counts the sockets the server sees.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { freePort, launchBrowser, metric, openPage, screenshot, startNextDev, startServer, tempDir, waitForState } from './harness.mjs';

let server;
let dev;
let browser;

before(async () => {
  const serverPort = await freePort();
  const devPort = await freePort();
  server = await startServer({
    port: serverPort,
    dbPath: join(tempDir('www-dev-'), 'dev.db'),
    env: { CORS_ALLOWED_ORIGINS: `http://127.0.0.1:${devPort}` },
  });
  dev = await startNextDev({
    port: devPort,
    env: { NEXT_PUBLIC_WS_PORT: String(serverPort), NEXT_PUBLIC_API_URL: server.base },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await dev?.stop();
  await server?.stop();
});

test('a StrictMode development page opens exactly one socket', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${dev.base}/`);
  await waitForState(page, 'open', 120_000);
  await page.getByTestId('corridor-row').or(page.getByText('No corridors yet.')).first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(1_500);
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1);
  await screenshot(page, '10-dev-strictmode');
  assert.deepEqual(problems, []);
  await context.close();
});
