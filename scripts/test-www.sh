#!/usr/bin/env bash
# Dashboard tests: unit tests (Vitest) and end-to-end tests (node:test +
# playwright-core driving Debian's Chromium) against the real server serving
# the built static export. Exits non-zero on any failure.
#
#   scripts/test-www.sh            everything
#   SKIP_E2E=1 scripts/test-www.sh unit tests and the build only
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Processes started by the e2e suite record their pids here; whatever still
# runs when this script exits (test crash, Ctrl-C) is stopped.
export E2E_PID_DIR="$(mktemp -d)"
cleanup() {
  local f
  for f in "$E2E_PID_DIR"/*.pid; do
    [ -e "$f" ] || continue
    kill -TERM -- "-$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$E2E_PID_DIR"
}
trap cleanup EXIT INT TERM

# 1. The wasm package, when missing or older than the client's sources.
if [ ! -f pkg/stellar_insights_ws_bg.wasm ] || [ ! -f pkg/stellar_insights_ws.js ] ||
  [ -n "$(find src Cargo.toml -newer pkg/stellar_insights_ws_bg.wasm -print -quit)" ]; then
  if [ -x scripts/build-wasm.sh ]; then
    scripts/build-wasm.sh
  else
    echo "== wasm-pack build --target web"
    wasm-pack build --target web
  fi
fi

# 2. The server binary (incremental; a no-op when up to date).
if [ "${SKIP_E2E:-0}" != 1 ]; then
  echo "== cargo build --locked -p stellar-insights-server"
  cargo build --locked -p stellar-insights-server
fi

# 3. Node dependencies, when missing or stale.
cd www
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

# 4. Type check, static export (copies the .wasm into public/ first).
echo "== tsc"
npx tsc --noEmit
echo "== next build"
npm run build

# 5. Unit tests.
echo "== vitest"
npx vitest run

# 6. End-to-end tests, one file at a time (they start servers).
if [ "${SKIP_E2E:-0}" != 1 ]; then
  echo "== e2e (node --test)"
  node --test --test-concurrency=1 e2e/
fi
