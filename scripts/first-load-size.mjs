#!/usr/bin/env node
// What a browser downloads before a page can be interactive: the files cargo-leptos put in the
// site's pkg/ directory (the WASM, its JS glue, the CSS), raw and compressed as the server sends
// them (gzip level 9, brotli quality 11). Run after `cargo leptos build --release --precompress
// --split`:
//
//   node scripts/first-load-size.mjs [site-root]      (default: target/site)
//
// Prints one line per file, then per route what it downloads: every page loads the main WASM,
// its JS and the CSS; a page with a lazy island (`#[island(lazy)]`) also fetches that island's
// WASM chunk (`split_<name>_loader_….wasm`) when the island hydrates. Sizes are in KB (1 KB =
// 1,000 bytes, as the issue figures are given), so before/after figures compare run to run.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = process.argv[2] ?? "target/site";
const pkg = join(root, "pkg");
const shipped = /\.(wasm|js|css)$/;
const files = readdirSync(pkg)
  .filter((f) => shipped.test(f) && statSync(join(pkg, f)).isFile())
  .sort();
if (files.length === 0) {
  console.error(`no .wasm, .js or .css in ${pkg}: run cargo leptos build --release first`);
  process.exit(1);
}
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const rows = files.map((f) => {
  const bytes = readFileSync(join(pkg, f));
  const gz = gzipSync(bytes, { level: 9 }).length;
  const br = brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  }).length;
  return { f, raw: bytes.length, gz, br, lazy: /^split_.*\.wasm$/.test(f) };
});
const sum = (rs) => rs.reduce((t, r) => ({ raw: t.raw + r.raw, gz: t.gz + r.gz, br: t.br + r.br }), { raw: 0, gz: 0, br: 0 });
const pad = (s, n) => String(s).padStart(n);
const line = (name, r) => console.log(`${name.padEnd(44)}${pad(kb(r.raw), 12)}${pad(kb(r.gz), 12)}${pad(kb(r.br), 12)}`);
console.log(`${"file".padEnd(44)}${pad("raw", 12)}${pad("gzip -9", 12)}${pad("brotli 11", 12)}`);
for (const r of rows) line(r.f.length > 43 ? `${r.f.slice(0, 40)}...` : r.f, r);
const first = rows.filter((r) => !r.lazy);
const wasm = (rs) => sum(rs.filter((r) => r.f.endsWith(".wasm")));
console.log("");
console.log(`${"first load (every page)".padEnd(44)}`);
line("  WASM", wasm(first));
line("  total (WASM, JS, CSS)", sum(first));
for (const chunk of rows.filter((r) => r.lazy)) {
  const name = chunk.f.replace(/^split_/, "").replace(/_loader_.*$/, "");
  console.log(`${`pages with the ${name} island`.padEnd(44)}`);
  line("  WASM", wasm([...first, chunk]));
  line("  total (WASM, JS, CSS)", sum([...first, chunk]));
}
