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
# Chromium's --print-to-pdf: one browser process per invoice, as a simple integration runs it.
cold=$(python3 - "$out" <<'PY'
import statistics, subprocess, sys, time, os
out = sys.argv[1]
chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-pdf-header-footer",
        f"--print-to-pdf={out}/cold.pdf", f"file://{out}/invoice.html"]
times = []
for _ in range(7):
    t = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    times.append((time.perf_counter() - t) * 1000)
print(f"chromium_cli_median_ms={statistics.median(times):.1f} chromium_cli_bytes={os.path.getsize(out + '/cold.pdf')} iterations=7")
PY
)
echo "$native"
echo "$chromium"
echo "$cold"
n=$(sed -E 's/.*native_median_ms=([0-9.]+).*/\1/' <<<"$native")
c=$(sed -E 's/.*chromium_median_ms=([0-9.]+).*/\1/' <<<"$chromium")
k=$(sed -E 's/.*chromium_cli_median_ms=([0-9.]+).*/\1/' <<<"$cold")
python3 -c "print(f'native is {float($c)/float($n):.0f}x faster than a warm Chromium page (page.pdf), {float($k)/float($n):.0f}x faster than chromium --print-to-pdf (medians)')"
