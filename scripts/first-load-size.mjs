#!/usr/bin/env node
// What a browser downloads before a page can be interactive: every file cargo-leptos put in the
// site's pkg/ directory (WASM, its JS glue, the CSS), raw and compressed as a server would send
// it (gzip level 9, brotli quality 11). Run after `cargo leptos build --release`:
//
//   node scripts/first-load-size.mjs [site-root]      (default: target/site)
//
// Prints one line per file and the total, in bytes and KB (1 KB = 1,000 bytes, as the issue
// figures are given), so before/after figures can be compared run to run.
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
  return { f, raw: bytes.length, gz, br };
});
const total = rows.reduce((t, r) => ({ raw: t.raw + r.raw, gz: t.gz + r.gz, br: t.br + r.br }), { raw: 0, gz: 0, br: 0 });
const pad = (s, n) => String(s).padStart(n);
console.log(`${"file".padEnd(28)}${pad("raw", 12)}${pad("gzip -9", 12)}${pad("brotli 11", 12)}`);
for (const r of [...rows, { f: "total", ...total }]) {
  console.log(`${r.f.padEnd(28)}${pad(kb(r.raw), 12)}${pad(kb(r.gz), 12)}${pad(kb(r.br), 12)}`);
}
