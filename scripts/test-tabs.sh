#!/usr/bin/env bash
# One socket per browser: the cross-tab sharing suite (tests/tabs/) in real
# headless Chromium, several pages of one browser context against the real
# server (its /metrics counts the WebSocket connections). Builds the wasm
# package when missing or older than its sources, and the server.
#   TABS_RESULTS=1 scripts/test-tabs.sh   also rewrites the "Cross-tab sharing"
#                                         section of bench/RESULTS.md
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/e2e-pids.sh
source "$root/scripts/e2e-pids.sh"
if [ ! -f pkg/stellar_insights_ws_bg.wasm ] ||
  [ -n "$(find src client-core/src Cargo.toml js/src -newer pkg/stellar_insights_ws_bg.wasm -print -quit)" ]; then
  scripts/build-wasm.sh
fi
cargo build --locked -p stellar-insights-server
[ -d www/node_modules ] || (cd www && npm ci --no-audit --no-fund)
node --test --test-concurrency=1 tests/tabs/tabs.test.mjs
