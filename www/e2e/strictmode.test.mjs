// `next dev` runs React StrictMode (reactStrictMode: true), which mounts every
// effect twice. A production export cannot show this (StrictMode's double
// mount is development-only), so this test starts a real dev server against
// a real API server and counts the sockets the server sees.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { api, freePort, launchBrowser, metric, openPage, randomAccount, screenshot, startNextDev, startServer, tempDir, waitForState } from './harness.mjs';

// The server refuses /ws without it, so "Connected" also proves that
// NEXT_PUBLIC_WS_TOKEN reaches the client.
const TOKEN = 'e2e-token with spaces&symbols';
let server;
let dev;
let browser;

before(async () => {
  const serverPort = await freePort();
  const devPort = await freePort();
  server = await startServer({
    port: serverPort,
    dbPath: join(tempDir('www-dev-'), 'dev.db'),
    env: { CORS_ALLOWED_ORIGINS: `http://127.0.0.1:${devPort}`, WS_AUTH_TOKEN: TOKEN },
  });
  dev = await startNextDev({
    port: devPort,
    env: { NEXT_PUBLIC_WS_PORT: String(serverPort), NEXT_PUBLIC_API_URL: server.base, NEXT_PUBLIC_WS_TOKEN: TOKEN },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await dev?.stop();
  await server?.stop();
});

test('a StrictMode development page opens exactly one socket, configured by NEXT_PUBLIC_WS_PORT and NEXT_PUBLIC_WS_TOKEN', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${dev.base}/`);
  await waitForState(page, 'open', 120_000);
  await page.getByTestId('corridor-row').or(page.getByText('No corridors yet.')).first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(1_500);
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1);
  assert.equal(await upgradeStatus(`${server.base}/ws`), 401, 'the server must refuse /ws without the token for this test to mean anything');
  // Live updates in development mode: React's dev-only warnings (keys,
  // hydration, effects) would show up as console errors here.
  const anchor = await api(server.base, 'POST', '/api/anchors', { name: 'Dev Anchor', stellar_account: randomAccount() });
  const corridor = await api(server.base, 'POST', '/api/corridors', {
    source_asset_code: 'USDC', source_asset_issuer: randomAccount(), dest_asset_code: 'EURC', dest_asset_issuer: randomAccount(),
  });
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 4, successful_transactions: 3, volume_usd: 9 });
  await api(server.base, 'POST', '/api/snapshots');
  await page.locator(`[data-testid="anchor-row"][data-id="${anchor.id}"]`).waitFor({ timeout: 5_000 });
  await page.locator(`[data-testid="corridor-row"][data-key="${corridor.corridor_key}"] [data-col="success_rate"]`, { hasText: '75.00%' }).waitFor({ timeout: 5_000 });
  await page.getByTestId('snapshot-row').first().waitFor({ timeout: 5_000 });
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1);
  await screenshot(page, '10-dev-strictmode');
  assert.deepEqual(problems, []);
  await context.close();
});

/** HTTP status of a WebSocket upgrade request without a token (101 if accepted). */
function upgradeStatus(url) {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}
