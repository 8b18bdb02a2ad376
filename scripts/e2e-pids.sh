# Sourced by the scripts that run node e2e suites (test-www.sh, test-tabs.sh):
# processes those suites start record their pids in E2E_PID_DIR
# (www/e2e/harness.mjs); whatever still runs when the script exits (test
# crash, Ctrl-C) is stopped.
export E2E_PID_DIR="$(mktemp -d)"
e2e_cleanup() {
  local f
  for f in "$E2E_PID_DIR"/*.pid; do
    [ -e "$f" ] || continue
    kill -TERM -- "-$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$E2E_PID_DIR"
}
trap e2e_cleanup EXIT INT TERM
