#!/usr/bin/env bash
# Installs whatever this project needs and the machine lacks. Safe to run twice:
# every step checks first and does nothing when the tool is already there.
# Sourced by run.sh and test.sh; can also be run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in
# Cargo.lock (Cargo.toml pins it with `=`), or the generated glue will not match.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

cargo_install() { # crate [version]
  local crate=$1 version=${2:-}
  local args=("$crate")
  [ -n "$version" ] && args+=(--version "$version")
  log "cargo install ${args[*]}"
  # --locked first for reproducibility; some lock files name crate versions the
  # registry mirror lacks, so fall back to a fresh resolution.
  cargo install --quiet --locked "${args[@]}" || cargo install --quiet "${args[@]}"
}

setup_rust() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { log "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }
  command -v wasm-pack >/dev/null || cargo_install wasm-pack
  local want
  want=$(wasm_bindgen_version)
  if [ -z "$want" ]; then
    (cd "$ROOT" && cargo generate-lockfile --quiet)
    want=$(wasm_bindgen_version)
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
    cargo_install wasm-bindgen-cli "$want"
  fi
}

# cargo-deny checks dependency bans, licenses and sources (deny.toml).
setup_cargo_deny() {
  command -v cargo-deny >/dev/null || cargo_install cargo-deny 0.20.2
}

setup_browser() {
  apt_install chromium chromium-driver
}

# wasm-opt comes from npm's binaryen (pinned in tools/package.json), not from
# Debian: Debian's wasm-opt 108 corrupts wasm-bindgen 0.2.130's externref table.
setup_binaryen() {
  command -v node >/dev/null || apt_install nodejs npm
  npm_ci "$ROOT/tools"
  npm_ci "$ROOT/js"
}

# npm ci in a folder, only when its lock file changed since the last install.
npm_ci() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  local stamp="$dir/node_modules/.install-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    log "npm ci (${dir#"$ROOT"/})"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}

# www/ and tests/nextjs-app/ depend on the package in pkg/, so they are
# installed after it is built: scripts/install-app.sh.
setup_node() {
  command -v node >/dev/null || apt_install nodejs npm
  npm_ci "$ROOT/bench"
}

setup_all() {
  setup_rust
  setup_cargo_deny
  setup_binaryen
  setup_browser
  setup_node
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  setup_all
  log "done"
fi
