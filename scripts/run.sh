#!/usr/bin/env bash
# Sets up what is missing, builds Axis CRM in release mode and serves it at http://127.0.0.1:3000
# on an embedded SQLite database in ./data. Settings: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
cargo leptos build --release --precompress --split
exec target/release/axis-crm serve
