#!/usr/bin/env bash
# Scale-out tests: starts throwaway Redis + PostgreSQL (scripts/services.sh), runs the
# multi-instance tests and the store/REST/WebSocket/demo suites against PostgreSQL,
# then stops the services it started. Exit status = the tests'.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=0
if ! env_lines=$(scripts/services.sh env 2>/dev/null); then
  env_lines=$(scripts/services.sh start)
  started=1
fi
cleanup() { [ "$started" -eq 0 ] || scripts/services.sh stop; }
trap cleanup EXIT
set -a
eval "$env_lines"
set +a
status=0
cargo test -p stellar-insights-server --locked --test scale --test scale_redis || status=1
TEST_STORE=postgres cargo test -p stellar-insights-server --locked \
  --test store --test rest --test websocket --test demo || status=1
exit $status
