#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, the native Rust tests
# (protocol, client core, server over real sockets), the wasm client in real
# headless Chromium against the real server, and the dashboard end to end.
# Installs what is missing first (scripts/setup.sh). Safe to run twice.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
setup_all

# Throwaway Redis and PostgreSQL on loopback for the scale-out tests (they
# fail, not skip, under CI=true when these are missing).
services_env=$("$ROOT/scripts/services.sh" start)
trap '"$ROOT/scripts/services.sh" stop' EXIT
set -a
eval "$services_env"
set +a

passed=0
failed=0
failures=()
stage() { # name command...
  local name=$1
  shift
  printf '\n\033[1m==> %s\033[0m\n' "$name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    printf '\033[32m<== %s ok (%ss)\033[0m\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '\033[31m<== %s FAILED (%ss)\033[0m\n' "$name" $((SECONDS - start))
  fi
}

stage "cargo fmt --check" cargo fmt --all --check
stage "cargo clippy (native)" cargo clippy --workspace --all-targets --locked -- -D warnings
stage "cargo clippy (wasm32; size rules of clippy.toml)" \
  cargo clippy -p stellar-insights-ws --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
stage "cargo clippy (client core as built into the wasm)" \
  cargo clippy -p stellar-insights-client-core -p stellar-insights-protocol --features stellar-insights-client-core/ts --target wasm32-unknown-unknown --locked -- -D warnings
stage "cargo doc (broken or private links, bad HTML in doc comments are errors)" \
  env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
stage "cargo doc (wasm32 client)" \
  env RUSTDOCFLAGS="-D warnings" cargo doc -p stellar-insights-ws --no-deps --target wasm32-unknown-unknown --locked
stage "cargo deny (bans, licenses, sources; advisories unreachable here, see SECURITY.md)" \
  cargo deny --workspace check bans licenses sources
stage "cargo test --workspace (incl. scale-out on Redis + PostgreSQL)" cargo test --workspace --locked
stage "server suites on PostgreSQL" env TEST_STORE=postgres cargo test -p stellar-insights-server --locked \
  --test store --test rest --test websocket --test demo --test ingest --test history --test state
stage "build the wasm package (pkg/; fails over 60 500 B gzipped)" "$ROOT/scripts/build-wasm.sh"
stage "load generator smoke: 50 clients, SIGKILL + resume (fails on gaps, never on timing)" "$ROOT/bench/loadgen.sh" smoke
stage "bench smoke: client dispatch and renders in Chromium (fails on delivery, never on timing)" \
  bash -c 'cd "$1" && npm run --silent dispatch:smoke && npm run --silent renders:smoke' _ "$ROOT/bench"
stage "browser tests (wasm client in Chromium)" "$ROOT/scripts/test-browser.sh"
stage "dashboard tests (vitest + Playwright e2e)" "$ROOT/scripts/test-www.sh"
stage "cross-tab sharing (one socket per browser) in Chromium" "$ROOT/scripts/test-tabs.sh"

echo
[ ${#failures[@]} -eq 0 ] || printf 'failed stages: %s\n' "${failures[*]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
