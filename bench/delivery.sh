#!/usr/bin/env bash
# How a frame becomes the JS object subscribers get, measured in headless
# Chromium on a release build (tests/measure.rs): JSON.parse of the socket's
# own string, JSON.parse of text copied out of wasm, and serde-wasm-bindgen.
# Writes the "delivery" section of bench/RESULTS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
wasm-pack test --release --headless --chrome --chromedriver "$CHROMEDRIVER" -- --test measure -- --nocapture | tee "$out"
line="$(grep -o 'MEASURE .*' "$out" | head -n1)"
[ -n "$line" ] || { echo "no measurement printed" >&2; exit 1; }
MEASURE_LINE="${line#MEASURE }" node --input-type=module -e '
import { writeSection } from "./bench/lib/results.mjs";
const line = process.env.MEASURE_LINE;
const rows = line.split(": ").slice(1).join(": ").split("; ").map((part) => {
  const m = part.match(/^(.*) ([0-9.]+) us$/);
  return m ? `| ${m[1]} | ${m[2]} |` : `| ${part} | |`;
});
writeSection("delivery", "Frame to JS object (issue 3, delivery path)", "bench/delivery.sh",
  `${line.split(": ")[0]}\n\n| path | µs per frame |\n| --- | --- |\n${rows.join("\n")}`);
'
