// Shared helpers of the e2e suite: a real stellar-insights-server on a free
// loopback port with a temporary SQLite database, Debian's Chromium through
// playwright-core, and small REST helpers. Every process started here is
// recorded in E2E_PID_DIR so scripts/test-www.sh's trap can stop it even if
// this process dies.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const WWW = resolve(here, '..');
export const ROOT = resolve(WWW, '..');
export const SCREENSHOTS = join(WWW, 'screenshots');
const SERVER_BIN = process.env.SERVER_BIN ?? join(ROOT, 'target', 'debug', 'stellar-insights-server');
const PID_DIR = process.env.E2E_PID_DIR;

const children = new Set();
process.on('exit', () => {
  for (const child of children) killGroup(child, 'SIGKILL');
});

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function track(child, name) {
  children.add(child);
  if (PID_DIR) {
    mkdirSync(PID_DIR, { recursive: true });
    writeFileSync(join(PID_DIR, `${name}-${child.pid}.pid`), String(child.pid));
  }
  child.once('exit', () => {
    children.delete(child);
    if (PID_DIR) rmSync(join(PID_DIR, `${name}-${child.pid}.pid`), { force: true });
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

/** A temporary directory removed at exit. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts the server; resolves once /health answers. `stop()` sends SIGTERM
 * and waits for the exit (SIGKILL after 10 s).
 */
export async function startServer({ port, dbPath, env = {} }) {
  const child = spawn(SERVER_BIN, [], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      DATABASE_URL: `sqlite://${dbPath}`,
      // E2E_STATIC_DIR: another export of the dashboard (scripts/test-www.sh runs the suite
      // again on one built with NEXT_PUBLIC_WS_SHARE_TABS=false).
      STATIC_DIR: process.env.E2E_STATIC_DIR ?? join(WWW, 'out'),
      WS_PING_INTERVAL_SECS: '1',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
  });
  track(child, 'server');
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(async () => (await fetch(`${base}/health`)).ok, 30_000, `${base}/health`),
    exited.then(({ code, signal }) => {
      throw new Error(`server exited early (code ${code}, signal ${signal}):\n${output}`);
    }),
  ]);
  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `next <command>` (`dev` or `start`) for the app in `dir` (default
 * www/) on `port` with extra env; resolves once it answers `/`.
 */
export async function startNext({ command = 'dev', dir = WWW, port, env }) {
  const child = spawn(join(dir, 'node_modules', '.bin', 'next'), [command, '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
  track(child, `next-${command}`);
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(async () => (await fetch(`${base}/`)).ok, 180_000, `next ${command} at ${base}`),
    exited.then((code) => {
      throw new Error(`next ${command} exited early (code ${code}):\n${output}`);
    }),
  ]);
  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `next dev` for www/ (see startNext). */
export const startNextDev = ({ port, env }) => startNext({ command: 'dev', port, env });

/** Debian's Chromium, headless, never a downloaded browser; `extra`: more launch options. */
export function launchBrowser(extra = {}) {
  return chromium.launch({
    ...extra,
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/**
 * A new page in its own context; `problems` collects console errors, page
 * errors and dialogs (a dialog would mean injected script ran).
 */
export async function openPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  return { context, page, problems };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Waits until the status badge is in `state` (data-state). */
export async function waitForState(page, state, timeout = 15_000) {
  try {
    await page.locator(`[data-testid="connection-status"][data-state="${state}"]`).waitFor({ timeout });
  } catch (error) {
    // Say what the page shows instead (e.g. "load_failed: <why the wasm did not load>").
    const badge = page.getByTestId('connection-status');
    const shown = await badge.getAttribute('data-state', { timeout: 1_000 }).catch(() => 'no badge');
    const why = await badge.getAttribute('title', { timeout: 1_000 }).catch(() => null);
    throw new Error(`expected connection state "${state}", page shows "${shown}"${why ? `: ${why}` : ''}`, { cause: error });
  }
}

/** JSON request; throws with the body on a non-2xx answer. */
export async function api(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Value of one Prometheus gauge/counter from /metrics (no labels). */
export async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`${name} not in /metrics`);
  return Number(line.trim().split(/\s+/).pop());
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function crc16xmodem(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** A valid, random Stellar account id (ed25519 public key strkey, `G...`). */
export function randomAccount() {
  const payload = new Uint8Array(33);
  payload[0] = 6 << 3;
  crypto.getRandomValues(payload.subarray(1));
  const crc = crc16xmodem(payload);
  const bytes = [...payload, crc & 0xff, crc >> 8];
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}
