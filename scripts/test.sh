#!/usr/bin/env bash
# Sets up what is missing and runs every test: Rust unit and integration tests (SQLite and
# PostgreSQL), then the Playwright end-to-end suite in Chromium, hydrated and with JavaScript off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$PWD/node_modules/.bin:$PATH"

echo "==> Rust unit and integration tests"
cargo test --workspace --locked --features axis-crm/ssr,whatsapp-cloud/sandbox

echo "==> release build for the end-to-end tests"
cargo leptos build --release --precompress --split

echo "==> Playwright end-to-end tests"
npx playwright test -c end2end/playwright.config.ts
