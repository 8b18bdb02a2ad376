#!/usr/bin/env bash
# Fan-out load and reconnect-storm benchmarks of stellar-insights-server (issue 5, sections 4 and 5).
# Loopback only; every run is bounded in clients and time and stops by itself.
#
#   bench/loadgen.sh smoke                 # N=50: 3 s of writes, then a kill + restart; fails only on
#                                          # gaps, duplicates or a missed resume, never on timing (debug build)
#   bench/loadgen.sh fanout [options]      # N = 1000, 5000, 10000 at 10 writes/s for 20 s each;
#                                          # rewrites the "loadgen" section of bench/RESULTS.md; with
#                                          # --baseline-bin PATH also an earlier server build, measured
#                                          # right before the server each time ("server before" rows)
#   bench/loadgen.sh first [options]       # 1000 clients at 10 writes/s for 20 s: REST write → first client
#                                          # delivery, split into commit, relay wake-up and fan-out start from
#                                          # the server's /metrics histograms; rewrites the "first" section
#   bench/loadgen.sh storm [options]       # 2000 clients, server SIGKILLed and restarted under writes;
#                                          # rewrites the "storm" section of bench/RESULTS.md
#   bench/loadgen.sh cluster [options]     # 1000 clients at 10 writes/s for 20 s on: 1 instance with SQLite,
#                                          # 1 and 3 instances sharing PostgreSQL + Redis; rewrites the
#                                          # "cluster" section. Uses TEST_REDIS_URL/TEST_POSTGRES_URL (or
#                                          # --redis-url/--postgres-url), else starts its own throwaway
#                                          # scripts/services.sh (own SERVICES_DIR) and stops it at the end
#
#   bench/loadgen.sh state [--secs 60]     # v1 frames vs state + deltas side by side: bytes on the wire for
#                                          # a minute of dashboard use and per update at 2000 updates/s;
#                                          # throttled clients (20 kB/s fault proxy) under 200 updates/s;
#                                          # rewrites the "state" section
#
# Options go to the load generator (see bench/README.md), e.g. `fanout --clients 1000 --secs 10`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  smoke|fanout|first|storm|cluster|state) shift ;;
  *) echo "usage: bench/loadgen.sh smoke|fanout|first|storm|cluster|state [loadgen options]" >&2; exit 2 ;;
esac
target=${CARGO_TARGET_DIR:-target}

# 10 000 clients need 10 000 descriptors in the load generator and as many in the server.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 12000 ] && [ "$mode" != smoke ]; then
  echo "open-file hard limit is $hard; 10 000 clients need about 12 000 (raise it in limits.conf or run as root)" >&2
fi
ulimit -n "$hard"

if [ "$mode" = smoke ]; then
  cargo build --quiet -p stellar-insights-server -p stellar-insights-loadgen
  exec "$target/debug/stellar-insights-loadgen" smoke --server-bin "$target/debug/stellar-insights-server" "$@"
fi

# The server is measured as shipped (workspace release profile: opt-level 3 everywhere). The load
# generator gets its own profile (opt-level 3, thin LTO: a shorter build than the release profile's
# fat LTO) so it is never the bottleneck.
cargo build --quiet --release -p stellar-insights-server
cargo build --quiet -p stellar-insights-loadgen --profile loadgen \
  --config 'profile.loadgen.inherits="release"' --config 'profile.loadgen.opt-level=3' \
  --config 'profile.loadgen.lto="thin"' --config 'profile.loadgen.codegen-units=16'
# Results path and command text go through the environment: the process's command line stays short.
export LOADGEN_RESULTS=bench/RESULTS.md LOADGEN_COMMAND="bench/loadgen.sh $mode${*:+ $*}"
loadgen=("$target/loadgen/stellar-insights-loadgen" "$mode" --server-bin "$target/release/stellar-insights-server" "$@")

if [ "$mode" = cluster ] && [[ " $* " != *" --redis-url "* || " $* " != *" --postgres-url "* ]] &&
  [ -z "${TEST_REDIS_URL:-}" -o -z "${TEST_POSTGRES_URL:-}" ]; then
  # Our own directory: `services.sh stop` must not stop services another job started in the default one.
  export SERVICES_DIR="${TMPDIR:-/tmp}/stellar-loadgen-services-$$"
  trap 'scripts/services.sh stop' EXIT
  set -a
  eval "$(scripts/services.sh start)"
  set +a
  "${loadgen[@]}"
  exit
fi
exec "${loadgen[@]}"
