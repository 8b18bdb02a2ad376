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
# shellcheck source=scripts/e2e-pids.sh
source "$root/scripts/e2e-pids.sh"

# 1. The npm package (pkg/), when missing or older than its sources (the
#    client crate and js/).
if [ ! -f pkg/stellar_insights_ws_bg.wasm ] || [ ! -f pkg/react.js ] ||
  [ -n "$(find src Cargo.toml js/src js/pkg.mjs -newer pkg/stellar_insights_ws_bg.wasm -print -quit)" ]; then
  scripts/build-wasm.sh
fi

# The package's own unit tests (loader, page store, hooks, compat) and types.
echo "== js: tsc + vitest"
[ -d js/node_modules ] || (cd js && npm ci --no-audit --no-fund)
(cd js && node_modules/.bin/tsc -p tsconfig.json --noEmit && node_modules/.bin/vitest run)

# 2. The server binary (incremental; a no-op when up to date).
if [ "${SKIP_E2E:-0}" != 1 ]; then
  echo "== cargo build --locked -p stellar-insights-server"
  cargo build --locked -p stellar-insights-server
fi

# 3. Node dependencies, and the package itself as an app installs it.
"$root/scripts/install-app.sh" www
cd www

# 4. Type check, static export.
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

# 6b. The same end-to-end suite with sharing across tabs off (one socket per
#     tab, the package's `shareAcrossTabs: false`), on an export built with
#     NEXT_PUBLIC_WS_SHARE_TABS=false (E2E_SHARE_TABS=false tells the
#     three-tab test to expect three sockets). The default export is put back
#     in out/ afterwards.
if [ "${SKIP_E2E:-0}" != 1 ]; then
  echo "== e2e with shareAcrossTabs: false (export built with NEXT_PUBLIC_WS_SHARE_TABS=false)"
  rm -rf out-shared out-noshare
  mv out out-shared
  NEXT_PUBLIC_WS_SHARE_TABS=false npm run build
  mv out out-noshare
  mv out-shared out
  E2E_STATIC_DIR="$PWD/out-noshare" E2E_SHARE_TABS=false node --test --test-concurrency=1 e2e/
fi

# 7. The drop-in proof: a second Next.js app written for the old layer, on
#    the installed package, built with next build and served by next start.
if [ "${SKIP_E2E:-0}" != 1 ]; then
  "$root/scripts/install-app.sh" tests/nextjs-app
  echo "== drop-in app (tests/nextjs-app: next build, next start, Chromium)"
  node --test "$root/tests/nextjs-app/dropin.test.mjs"
fi
