import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

// The suite runs the release server on its own port with a throwaway data directory, so it
// never touches a developer's ./data, and runs every spec twice: hydrated (WASM) and with
// JavaScript disabled (plain HTML forms).
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "axis-e2e-"));
const root = path.resolve(__dirname, "..");
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [
    { name: "hydrated", use: { javaScriptEnabled: true } },
    { name: "no-js", use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: `${path.join(root, "target/release/axis-crm")}`,
    cwd: root,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      AXIS_DATA_DIR: dataDir,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: path.join(root, "target/site"),
      LEPTOS_ENV: "PROD",
      // The built-in sandbox on a known port, and the "live" Graph URL pointed at it too, so the
      // manual connection form can be exercised against the simulator.
      AXIS_SANDBOX_ADDR: `127.0.0.1:${port + 1}`,
      WHATSAPP_GRAPH_URL: `http://127.0.0.1:${port + 1}`,
      RUST_LOG: "warn",
    },
  },
});
