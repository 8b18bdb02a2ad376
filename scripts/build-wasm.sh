#!/usr/bin/env bash
# Builds the wasm client into pkg/ (the npm package `stellar-insights-ws`) and
# prints its gzipped size. Expects scripts/setup.sh to have run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# wasm-pack runs the first wasm-opt on PATH: binaryen 132 from tools/ (see setup.sh).
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
printf '\033[1m[build]\033[0m wasm-pack build --target web --profile wasm-release\n' >&2
wasm-pack --quiet build --target web --profile wasm-release --out-dir pkg
# The glue ships minified, as the bundlers of the size table's rivals ship
# theirs; its documentation stays in pkg/*.d.ts. Exports are kept as they are.
# The crate's inline JS (pkg/snippets/) is bundled into it, so the glue is the
# whole of the package's JS and the size below counts all of it.
esbuild pkg/stellar_insights_ws.js --bundle --format=esm --minify --log-level=warning \
  --allow-overwrite --outfile=pkg/stellar_insights_ws.js
rm -rf pkg/snippets
wasm_gz=$(gzip -9 -c pkg/stellar_insights_ws_bg.wasm | wc -c)
js_gz=$(gzip -9 -c pkg/stellar_insights_ws.js | wc -c)
printf '\033[1m[build]\033[0m pkg/: wasm %s B + js %s B gzipped = %s B\n' "$wasm_gz" "$js_gz" $((wasm_gz + js_gz)) >&2
