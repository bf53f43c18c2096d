#!/usr/bin/env node
// Time to interactive on an emulated phone, cold and warm cache, for the login page and the
// invoice table. Run after `cargo leptos build --release --precompress`:
//
//   node scripts/tti.mjs [--runs N] [--url http://127.0.0.1:3000] [--bin PATH] [--site DIR]
//
// Without --url it starts the server itself (--bin, default target/release/axis-crm, serving
// --site, default target/site) on a throwaway database (port 3200).
// The phone: Chromium with a 4× CPU slowdown, 1.6 Mbit/s down, 750 kbit/s up, 150 ms round
// trip (Lighthouse's "slow 4G"), 390 × 844 pixels. "Interactive" is the moment the WASM app has
// hydrated the page (the app then sets `data-hydrated` on <body>); the time runs from the start
// of the navigation. Cold: a fresh browser context (empty cache) per run. Warm: the same page
// opened again in a context that has loaded it once. Prints the median and the range of N runs
// (default 5) per case.
import { chromium } from "@playwright/test";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const runs = Number(opt("--runs", "5"));
let base = opt("--url", null);
const root = resolve(new URL(".", import.meta.url).pathname, "..");

let server;
if (!base) {
  const port = 3200;
  base = `http://127.0.0.1:${port}`;
  server = spawn(resolve(opt("--bin", join(root, "target/release/axis-crm"))), [], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      AXIS_DATA_DIR: mkdtempSync(join(tmpdir(), "axis-tti-")),
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: resolve(opt("--site", join(root, "target/site"))),
      LEPTOS_ENV: "PROD",
      AXIS_SANDBOX_ADDR: `127.0.0.1:${port + 1}`,
      RUST_LOG: "warn",
    },
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("the server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic"],
});
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };

// A user with the sample invoices, signed up on an unthrottled connection.
const setup = await browser.newContext({ baseURL: base, javaScriptEnabled: false });
const p = await setup.newPage();
await p.goto("/signup");
await p.getByLabel("Your name").fill("Ana Silva");
await p.getByLabel("Business name").fill("Silva Lettings");
await p.getByLabel("Email").fill(`tti-${Date.now()}@example.com`);
await p.getByLabel("Password").fill("correct horse battery");
await p.getByRole("button", { name: "Create account" }).click();
await p.waitForURL(/\/onboarding$/);
await p.goto("/invoices");
await p.getByRole("button", { name: "Load sample data" }).click();
await p.getByRole("link", { name: "INV-0003", exact: true }).waitFor();
const session = await setup.storageState();
await setup.close();

async function throttle(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1000 * 1000) / 8,
    uploadThroughput: (750 * 1000) / 8,
  });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
}

async function timeToInteractive(page, path) {
  const start = Date.now();
  await page.goto(path, { waitUntil: "commit" });
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 120_000 });
  return Date.now() - start;
}

async function measure(path, storageState) {
  const cold = [];
  const warm = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ baseURL: base, storageState, ...phone });
    const page = await ctx.newPage();
    await throttle(page);
    cold.push(await timeToInteractive(page, path));
    warm.push(await timeToInteractive(page, path));
    await ctx.close();
  }
  return { cold, warm };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`time to interactive, ${runs} runs each (4x CPU, 1.6 Mbit/s, 150 ms RTT, 390x844)`);
console.log(`${"page".padEnd(12)}${"cache".padEnd(7)}${"median".padStart(9)}${"min".padStart(9)}${"max".padStart(9)}`);
for (const [name, path, state] of [
  ["login", "/login", undefined],
  ["invoices", "/invoices", session],
]) {
  const r = await measure(path, state);
  for (const cache of ["cold", "warm"]) {
    const s = stats(r[cache]);
    console.log(`${name.padEnd(12)}${cache.padEnd(7)}${fmt(s.median).padStart(9)}${fmt(s.min).padStart(9)}${fmt(s.max).padStart(9)}`);
  }
}
await browser.close();
server?.kill();
