#!/usr/bin/env bash
# Gzipped package size (wasm + JS glue, gzip -9) with each candidate global
# allocator, side by side: the committed tree (HEAD), built by
# scripts/build-wasm.sh, with only the allocator changed. Rewrites the
# "allocator" section of bench/RESULTS.md. Builds in a temporary copy that
# shares target/, so the work tree is left as it is. ~3 min.
#
# The hand-written size-class allocator the crate used before talc is taken
# from git: HEAP_REV (default 46b0ac4, its last, hardened state).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HEAP_REV=${HEAP_REV:-46b0ac4}
export CARGO_TARGET_DIR="$ROOT/target"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$ROOT" archive HEAD | tar -x -C "$tmp"
ln -s "$ROOT/tools/node_modules" "$tmp/tools/node_modules"
cp "$tmp/Cargo.toml" "$tmp/Cargo.toml.orig"
cp "$tmp/Cargo.lock" "$tmp/Cargo.lock.orig"
cp "$tmp/src/lib.rs" "$tmp/src/lib.rs.orig"

# variant NAME TALC_DEP_LINE STATIC_LINE: the `talc = ...` line of Cargo.toml
# and the `static HEAP ...` line of src/lib.rs replaced ("" deletes them).
rows=()
variant() {
  local name=$1 dep=$2 static=$3
  cp "$tmp/Cargo.toml.orig" "$tmp/Cargo.toml"
  cp "$tmp/Cargo.lock.orig" "$tmp/Cargo.lock"
  cp "$tmp/src/lib.rs.orig" "$tmp/src/lib.rs"
  DEP=$dep STATIC=$static python3 - "$tmp" <<'EOF'
import os, re, sys
root = sys.argv[1]
def edit(path, pattern, new):
    text = open(path).read()
    text, n = re.subn(pattern, new.replace('\\', '\\\\'), text, count=1, flags=re.M)
    assert n == 1, (path, pattern)
    open(path, 'w').write(text)
edit(f'{root}/Cargo.toml', r'^talc = .*\n', os.environ['DEP'] + '\n' if os.environ['DEP'] else '')
if os.environ['STATIC']:
    edit(f'{root}/src/lib.rs', r'^static HEAP: .*;$', os.environ['STATIC'])
else:  # std's allocator: no #[global_allocator] at all
    edit(f'{root}/src/lib.rs', r'^#\[cfg\(.*\)\]\n#\[global_allocator\]\nstatic HEAP: .*;\n', '')
EOF
  "$tmp/scripts/build-wasm.sh" 2>/dev/null
  local wasm js
  # From stdin, as bench/size/size.mjs counts (no file name in the header).
  wasm=$(gzip -9 -c < "$tmp/pkg/stellar_insights_ws_bg.wasm" | wc -c)
  js=$(gzip -9 -c < "$tmp/pkg/stellar_insights_ws.js" | wc -c)
  printf '%s: %s B\n' "$name" $((wasm + js)) >&2
  rows+=("$name|$wasm|$js|$((wasm + js))")
}

kept=$(grep '^static HEAP' "$tmp/src/lib.rs.orig")
variant 'talc 5.1, `wasm::new_wasm_dynamic_allocator()` (kept)' 'talc = "5.1"' "$kept"
variant 'talc 5.1, same + feature `disable-realloc-in-place`' \
  'talc = { version = "5.1", features = ["disable-realloc-in-place"] }' "$kept"
variant 'talc 5.1, `WasmGrowAndClaim` + `disable-realloc-in-place`' \
  'talc = { version = "5.1", features = ["disable-realloc-in-place"] }' \
  'static HEAP: talc::cell::TalcSyncCell<talc::wasm::WasmGrowAndClaim, talc::wasm::WasmBinning> = talc::cell::TalcSyncCell::new_wasm(talc::wasm::WasmGrowAndClaim);'
variant 'lol_alloc 0.4, `AssumeSingleThreaded<FreeListAllocator>`' \
  'lol_alloc = "0.4"' \
  'static HEAP: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> = unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };'
git -C "$ROOT" show "$HEAP_REV:src/heap.rs" > "$tmp/src/heap.rs"
git -C "$ROOT" show "$HEAP_REV:src/heap_tests.rs" > "$tmp/src/heap_tests.rs"
sed -i 's/^pub mod frame;$/pub mod frame;\npub mod heap;/' "$tmp/src/lib.rs.orig"
variant "hand-written size classes (\`src/heap.rs\` at $HEAP_REV)" '' 'static HEAP: heap::Heap = heap::Heap::new();'
variant "std's dlmalloc (no \`#[global_allocator]\`)" '' ''

body="| global allocator | wasm gz B | JS gz B | total gz B | vs hand-written B |
| --- | --- | --- | --- | --- |"
own=${rows[4]##*|}
for row in "${rows[@]}"; do
  IFS='|' read -r name wasm js total <<<"$row"
  delta=$((total - own))
  [ "$delta" -gt 0 ] && delta="+$delta"
  body+=$'\n'"| $name | $wasm | $js | $total | $delta |"
done
body+=$'\n\n'"Rule (issue 11, point 5): a maintained allocator within 1 000 B gzipped of the hand-written one replaces it. bench/README.md, \"Allocator\", says which was kept and why."
printf '%s\n' "$body"
BODY=$body node --input-type=module -e "
import { writeSection } from '$ROOT/bench/lib/results.mjs';
writeSection('allocator', 'Allocator (issue 11, point 5)', 'bench/size/allocators.sh', process.env.BODY);"
