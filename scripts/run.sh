#!/usr/bin/env bash
# Builds everything (wasm client into pkg/, the dashboard into www/out, the
# server) and runs the live demo dashboard on http://127.0.0.1:8080 with the
# embedded defaults: SQLite file, in-process bus, demo data. Installs what is
# missing first (scripts/setup.sh). Safe to run twice. Ctrl-C stops it.
#
# Any server variable from the README can be set in the environment or in a
# .env file; SERVER_PORT=9000 ./scripts/run.sh, for example.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
setup_rust
setup_binaryen
setup_node

"$ROOT/scripts/build-wasm.sh"
"$ROOT/scripts/install-app.sh" www
log "building the dashboard (www/out)"
(cd www && npm run --silent build)
log "building the server (release)"
cargo build --release --locked -p stellar-insights-server

DB_FILE=stellar-insights.db
if [ "${INGEST:-off}" = horizon ]; then
  # Real network data: no demo records, and a database per network.
  export DEMO_MODE="${DEMO_MODE:-false}"
  DB_FILE="horizon-${STELLAR_NETWORK:-public}.db"
fi
export DEMO_MODE="${DEMO_MODE:-true}"
export STATIC_DIR="${STATIC_DIR:-$ROOT/www/out}"
export DATABASE_URL="${DATABASE_URL:-sqlite://$ROOT/.data/$DB_FILE}"
mkdir -p "$ROOT/.data"
log "dashboard: http://${SERVER_HOST:-127.0.0.1}:${SERVER_PORT:-8080}/  (Ctrl-C to stop)"
exec "$ROOT/target/release/stellar-insights-server"
