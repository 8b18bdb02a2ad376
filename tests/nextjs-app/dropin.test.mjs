// The drop-in proof: this app's components are written against the old
// `@/hooks/useWebSocket` and `@/lib/websocket`, which are one-line re-exports
// of the installed stellar-insights-ws package. It is built with `next build`
// (production, not a static export), served by `next start` on its own port,
// and driven in Chromium against the real server on another port. The socket
// URL comes from the package's default: the page's host, NEXT_PUBLIC_WS_PORT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { api, freePort, launchBrowser, metric, openPage, randomAccount, screenshot, startNext, startServer, tempDir } from '../../www/e2e/harness.mjs';

const APP = dirname(fileURLToPath(import.meta.url));
let server;
let app;
let browser;

function nextBuild(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(join(APP, 'node_modules', '.bin', 'next'), ['build'], {
      cwd: APP,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`next build failed (${code}):\n${output}`))));
  });
}

before(async () => {
  const serverPort = await freePort();
  const appPort = await freePort();
  // NEXT_PUBLIC_* are inlined at build time, as in any Next.js app.
  await nextBuild({ NEXT_PUBLIC_WS_PORT: String(serverPort) });
  server = await startServer({
    port: serverPort,
    dbPath: join(tempDir('dropin-'), 'dropin.db'),
    env: { CORS_ALLOWED_ORIGINS: `http://127.0.0.1:${appPort}` },
  });
  app = await startNext({ command: 'start', dir: APP, port: appPort });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
});

test('an app written for the old layer runs on the package: connects, shows writes, pings, resumes after Disconnect/Connect', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${app.base}/`);
  const text = (id) => page.getByTestId(id).innerText();

  // Connected, with the id from the server's `connected` frame.
  await page.getByTestId('status').getByText('Connected', { exact: true }).waitFor({ timeout: 30_000 });
  assert.match(await text('connection-id'), /^[0-9a-f-]{36}$/);
  assert.match(await text('events'), /connect/);

  // A REST write appears through the typed hooks.
  await api(server.base, 'POST', '/api/anchors', { name: 'Dropin Anchor', stellar_account: randomAccount() });
  const corridor = await api(server.base, 'POST', '/api/corridors', {
    source_asset_code: 'USDC', source_asset_issuer: randomAccount(), dest_asset_code: 'EURC', dest_asset_issuer: randomAccount(),
  });
  await api(server.base, 'PUT', `/api/corridors/${corridor.id}/metrics`, { total_transactions: 4, successful_transactions: 3, volume_usd: 9 });
  const snapshot = await api(server.base, 'POST', '/api/snapshots');
  await page.getByTestId('anchor').getByText(/^Dropin Anchor:/).waitFor({ timeout: 10_000 });
  await page.locator(`[data-testid="corridor"][data-key="${corridor.corridor_key}"]`, { hasText: '75.00%' }).waitFor({ timeout: 10_000 });
  await page.getByTestId('snapshot').getByText(`${snapshot.id}@${snapshot.epoch}`).waitFor({ timeout: 10_000 });
  // The old class (getWebSocketInstance().on) sees it too, on the same socket.
  await page.getByTestId('compat-snapshot').getByText(snapshot.id).waitFor({ timeout: 10_000 });
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1, 'five hooks and the compat class share one socket');
  // onMessage without messageTypes gets every frame, the server's pings included (1 s here).
  await page.getByTestId('last-message').getByText(/^ping \d+$/).waitFor({ timeout: 10_000 });

  // The autoConnect: false component: Connect takes a reference, Send Ping gets a pong.
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.getByTestId('manual-status').getByText('open').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Send Ping' }).click();
  await page.getByTestId('pongs').getByText('1', { exact: true }).waitFor({ timeout: 10_000 });

  // Disconnect closes the page's socket; a write made meanwhile shows after Connect (resume).
  await page.getByRole('button', { name: 'Disconnect' }).click();
  await page.getByTestId('status').getByText('Disconnected').waitFor({ timeout: 10_000 });
  assert.match(await text('events'), /disconnect/);
  await api(server.base, 'POST', '/api/anchors', { name: 'While Away', stellar_account: randomAccount() });
  await page.waitForTimeout(500);
  assert.equal(await page.getByTestId('anchor').getByText(/^While Away:/).count(), 0, 'nothing arrives while disconnected');
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.getByTestId('status').getByText('Connected', { exact: true }).waitFor({ timeout: 10_000 });
  await page.getByTestId('anchor').getByText(/^While Away:/).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('anchor').getByText(/^Dropin Anchor:/).count(), 1, 'no update delivered twice');
  assert.equal(await metric(server.base, 'stellar_ws_connections_open'), 1);

  assert.equal(await text('errors'), '');
  await screenshot(page, 'dropin-app');
  assert.deepEqual(problems, []);
  await context.close();
});
