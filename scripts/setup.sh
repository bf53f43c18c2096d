#!/usr/bin/env bash
# Installs what Axis CRM needs to build (and, with `--test`, to test) on a fresh Debian machine.
# Idempotent: each step checks first and does nothing when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

CARGO_LEPTOS_VERSION=0.3.10
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "Rust is required: install it with rustup (https://rustup.rs)" >&2; exit 1; }
command -v npm >/dev/null || { log "installing Node.js and npm"; apt_install nodejs npm; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
  # no_downloads: use the tools on PATH instead of fetching binaries from the internet.
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# The wasm-bindgen CLI must match the wasm-bindgen library in Cargo.lock exactly.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]; then
  log "installing wasm-bindgen-cli $wbg_version"
  cargo install wasm-bindgen-cli --version "$wbg_version"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || { [ $want_test = 1 ] && [ ! -x node_modules/.bin/playwright ]; } \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (wasm-opt, Playwright)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ $want_test = 1 ]; then
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's Chromium for the end-to-end tests"
    apt_install chromium
  fi
  if ! command -v pdftotext >/dev/null || ! command -v qpdf >/dev/null; then
    log "installing pdftotext and qpdf for the PDF tests"
    apt_install poppler-utils qpdf
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing PostgreSQL for the integration tests"
      apt_install postgresql
    fi
    log "starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -1)
    # Local connections trust the OS user (the project's machines run it this way).
    hba=/etc/postgresql/$version/main/pg_hba.conf
    if ! grep -q "axis-crm tests" "$hba"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust # axis-crm tests' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -h 127.0.0.1 -p 5432
  fi
fi
