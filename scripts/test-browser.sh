#!/usr/bin/env bash
# Browser tests of the wasm client: real headless Chromium against the real
# stellar-insights-server, which the testkit runs (and stops/starts on the
# tests' request) on free loopback ports. Everything started here is stopped
# on exit, also on failure; the exit status is non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

WORK="$(mktemp -d)"
KIT_PID=""
cleanup() {
  if [ -n "$KIT_PID" ] && kill -0 "$KIT_PID" 2>/dev/null; then
    kill -TERM "$KIT_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$KIT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$KIT_PID" 2>/dev/null || true
  fi
  # The kit stops its server child; this covers the kit having been killed.
  if [ -f "$WORK/server.pid" ]; then kill -KILL "$(cat "$WORK/server.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cargo build -p stellar-insights-server -p stellar-insights-testkit

export SI_SERVER_PORT="$(free_port)" SI_CONTROL_PORT="$(free_port)" SI_CLOSED_PORT="$(free_port)" SI_PROXY_PORT="$(free_port)"
target/debug/stellar-insights-testkit \
  --server-bin target/debug/stellar-insights-server \
  --server-port "$SI_SERVER_PORT" --control-port "$SI_CONTROL_PORT" --data-dir "$WORK" \
  --proxy-port "$SI_PROXY_PORT" &
KIT_PID=$!
for _ in $(seq 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$SI_CONTROL_PORT/health', timeout=1)" 2>/dev/null; then break; fi
  kill -0 "$KIT_PID" 2>/dev/null || { echo "testkit exited" >&2; exit 1; }
  sleep 0.1
done

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# The runner's timeout covers a whole test binary (default 20 s).
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" -- --test browser --test faults --test state "$@"
# Again with sharing across tabs off (`shareAcrossTabs: false`, one socket per
# tab): the suites' `configure` options read SI_SHARE_ACROSS_TABS at build time.
echo "== the same suites with shareAcrossTabs: false"
SI_SHARE_ACROSS_TABS=false wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" -- --test browser --test faults --test state "$@"
