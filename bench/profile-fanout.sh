#!/usr/bin/env bash
# Where a server binary's CPU goes during fan-out (issue 16 §2): runs the load generator's fan-out
# at N clients (default 10 000, 10 writes/s, 10 s, no floor run) against SERVER_BIN and samples that
# server with `perf record -F 999` for 8 s of the writing window (from 2.5 s after /metrics shows
# every client connected: the load generator waits 2 s, then writes). Prints the load generator's
# table row and the top entries of `perf report --no-children` (user space, then kernel).
#
#   bench/profile-fanout.sh SERVER_BIN [OUT_DIR] [CLIENTS]
#
# OUT_DIR (default a new directory under ${TMPDIR:-/tmp}) keeps loadgen.log, results.md (the
# load generator's section, not bench/RESULTS.md) and perf.data. Needs perf and curl; builds
# nothing: build the load generator first (`bench/loadgen.sh` builds target/loadgen/). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?usage: bench/profile-fanout.sh SERVER_BIN [OUT_DIR] [CLIENTS]}")
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/profile-fanout.XXXXXX")}
clients=${3:-10000}
loadgen=${CARGO_TARGET_DIR:-target}/loadgen/stellar-insights-loadgen
[ -x "$loadgen" ] || { echo "$loadgen missing: run bench/loadgen.sh once (it builds it)" >&2; exit 2; }
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

LOADGEN_RESULTS="$out/results.md" LOADGEN_COMMAND="bench/profile-fanout.sh $*" \
  "$loadgen" fanout --server-bin "$bin" --clients "$clients" --floor 0 --secs 10 >"$out/loadgen.log" 2>&1 &
gen=$!

# The server is the load generator's child running $bin.
pid=
for _ in $(seq 1 300); do
  pid=$(pgrep -P "$gen" -f "^$bin" | head -1 || true)
  [ -n "$pid" ] && break
  sleep 0.2
done
[ -n "$pid" ] || { echo "server did not start (see $out/loadgen.log)" >&2; wait "$gen" || true; exit 1; }
port=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^SERVER_PORT=//p')

open=0
for _ in $(seq 1 600); do
  open=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" |
    sed -n 's/^stellar_ws_connections_open \([0-9]*\)$/\1/p' || true)
  [ "${open:-0}" -ge "$clients" ] && break
  sleep 0.5
done
[ "${open:-0}" -ge "$clients" ] || { echo "only ${open:-0} of $clients clients connected" >&2; wait "$gen" || true; exit 1; }
sleep 2.5
perf record -q -F 999 -o "$out/perf.data" -p "$pid" -- sleep 8
wait "$gen"

grep '^| program\|^| server' "$out/loadgen.log"
perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' >"$out/report.txt" || true
echo "top user-space entries (% of all samples):"
grep -v '\[kernel' "$out/report.txt" | head -20 || true
echo "top kernel entries:"
grep '\[kernel' "$out/report.txt" | head -10 || true
echo "kept in $out"
