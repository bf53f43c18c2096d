#!/usr/bin/env bash
# Benchmarks invoice PDF rendering: the native renderer (criterion, then a timed loop) and
# Chromium's print-to-PDF of the same invoice as HTML, side by side in one run. Figures only:
# nothing here asserts a time. Needs the npm packages (scripts/setup.sh --test) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
echo "==> criterion (crates/invoice-pdf/benches/render.rs)"
cargo bench -p invoice-pdf --bench render -- --noplot 2>&1 | grep -E "render a typical invoice|time:" || true
echo "==> native and Chromium, same invoice, same run"
native=$(cargo run -q --release -p invoice-pdf --example compare -- "$out/invoice.html" "$out/native.pdf" 300)
chromium=$(node scripts/bench-pdf-chromium.js "$out/invoice.html" "$out/chromium.pdf" 30)
echo "$native"
echo "$chromium"
n=$(sed -E 's/.*native_median_ms=([0-9.]+).*/\1/' <<<"$native")
c=$(sed -E 's/.*chromium_median_ms=([0-9.]+).*/\1/' <<<"$chromium")
python3 -c "print(f'native is {float($c)/float($n):.0f}x faster than Chromium print-to-PDF (median)')"
