#!/usr/bin/env bash
# Installs an app's npm dependencies and the npm package built in pkg/, the
# way an app installs it: as a copy in node_modules (each app's .npmrc sets
# install-links=true), refreshed on every call because pkg/ changes with
# every build. Needs pkg/ (scripts/build-wasm.sh) first: npm cannot install
# a `file:` package that does not exist yet.
#
#   scripts/install-app.sh www tests/nextjs-app
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
if [ ! -f "$ROOT/pkg/package.json" ]; then
  echo "install-app: $ROOT/pkg/package.json is missing; build the package first: scripts/build-wasm.sh" >&2
  exit 1
fi
for app in "$@"; do
  dir="$ROOT/$app"
  npm_ci "$dir"
  log "installing pkg/ into $app"
  rm -rf "$dir/node_modules/stellar-insights-ws"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
done
