import AxeBuilder from "@axe-core/playwright";
import { eventually, expect, open, signUp, test, uniqueEmail } from "./helpers";
import type { Locator, Page, TestInfo } from "@playwright/test";

// A phone: 390 × 844 CSS pixels (an iPhone 12 to 15), touch, the mobile viewport meta honoured.
test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 });

function row(page: Page, number: string): Locator {
  return page.getByRole("row").filter({ has: page.getByRole("link", { name: number, exact: true }) });
}

/** Nothing on the page is wider than the screen: no sideways scrolling. */
async function fitsTheScreen(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "the page scrolls sideways").toBeLessThanOrEqual(0);
}

/** `locator` lies wholly inside the viewport's width. */
async function insideTheWidth(page: Page, locator: Locator, what: string) {
  const box = await locator.boundingBox();
  expect(box, `${what} is laid out`).not.toBeNull();
  const width = page.viewportSize()!.width;
  expect(box!.x, `${what} starts on screen`).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, `${what} ends on screen`).toBeLessThanOrEqual(width);
}

test("a newcomer's first send on a phone: sandbox, sample data, the WhatsApp icon, Send", async ({ page }, info) => {
  test.setTimeout(60_000);
  await signUp(page, info, uniqueEmail(info, "phone"), "Harbour Lettings");
  await open(page, "/settings/whatsapp", info);
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator("section.connection .badge.sandbox")).toHaveText("SANDBOX");
  await fitsTheScreen(page);

  await open(page, "/invoices", info);
  await page.getByRole("button", { name: "Load sample data" }).click();
  await expect(page.getByRole("link", { name: "INV-0008", exact: true })).toBeVisible();
  await fitsTheScreen(page);

  // Every invoice is a card with its number, tenant, amount, due date, status and WhatsApp
  // action on screen; the bulk actions are there too.
  const rows = page.locator("table.cards tbody tr");
  const count = await rows.count();
  expect(count).toBe(8);
  for (let i = 0; i < count; i++) {
    const r = rows.nth(i);
    const number = (await r.locator("td.card-title").innerText()).trim();
    for (const cell of ['[data-label="Tenant"]', '[data-label="Amount"]', '[data-label="Due date"]', '[data-label="Status"]', "td.card-action"]) {
      await insideTheWidth(page, r.locator(cell), `${number} ${cell}`);
    }
    const action = r.locator("td.card-action").locator("a, button, .send-status, .blocked").first();
    await insideTheWidth(page, action, `${number}'s WhatsApp action`);
  }
  await insideTheWidth(page, page.getByRole("button", { name: "Send selected via WhatsApp" }), "Send selected");
  await insideTheWidth(page, page.getByRole("button", { name: "Send all overdue via WhatsApp" }), "Send all overdue");
  // The same names as on the desktop table.
  await expect(page.getByRole("checkbox", { name: "Select invoice INV-0003" })).toBeVisible();

  // The WhatsApp icon leads to the confirmation, which can send at once: the sandbox account
  // starts with the invoice template approved.
  await row(page, "INV-0003").getByRole("link", { name: "Send invoice INV-0003 via WhatsApp" }).click();
  await expect(page.getByRole("heading", { name: "Send invoice INV-0003 via WhatsApp" })).toBeVisible();
  await expect(page.getByText(/As the approved invoice template with the PDF attached/)).toBeVisible();
  await fitsTheScreen(page);
  if (info.project.name === "hydrated") {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  await insideTheWidth(page, page.getByRole("button", { name: "Send invoice" }), "Send invoice");
  await page.getByRole("button", { name: "Send invoice" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  await eventually(page, info, async () => {
    await expect(row(page, "INV-0003").getByRole("img", { name: "WhatsApp: Read" })).toBeVisible({ timeout: 15_000 });
  });
  await insideTheWidth(page, row(page, "INV-0003").getByRole("img", { name: "WhatsApp: Read" }), "INV-0003's ticks");

  // Tenants are cards too.
  await open(page, "/tenants", info);
  await expect(page.getByRole("link", { name: "Иван Петров" })).toBeVisible();
  await fitsTheScreen(page);
  const tenants = page.locator("table.cards tbody tr");
  for (let i = 0; i < (await tenants.count()); i++) {
    await insideTheWidth(page, tenants.nth(i).locator("summary"), `tenant ${i + 1}'s Edit`);
  }
});

/**
 * Serious and critical accessibility violations on the open page, as axe-core finds them. axe
 * runs inside the page, which JavaScript being off forbids: without JavaScript the page's HTML
 * as that browser has it (scripts removed, styles kept) is checked in `checker`, a page with
 * JavaScript on.
 */
async function violations(page: Page, info: TestInfo, checker: Page): Promise<string[]> {
  let target = page;
  if (info.project.name !== "hydrated") {
    const origin = new URL(page.url()).origin;
    const html = (await page.content())
      .replace(/<script\b[\s\S]*?<\/script>/gi, "")
      .replace(/<head>/i, `<head><base href="${origin}/">`);
    await checker.setContent(html, { waitUntil: "load" });
    target = checker;
  }
  const results = await new AxeBuilder({ page: target }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${page.url()} [${info.project.name}] ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

test("axe-core finds no serious or critical violation on any page, logged out and in", async ({ page, browser }, info) => {
  test.setTimeout(180_000);
  const checker = await (await browser.newContext({ javaScriptEnabled: true, viewport: { width: 390, height: 844 } })).newPage();
  const found: string[] = [];
  const check = async (url: string) => {
    await open(page, url, info);
    found.push(...(await violations(page, info, checker)));
  };
  for (const url of ["/login", "/signup"]) {
    await check(url);
  }

  await signUp(page, info, uniqueEmail(info, "axe"), "Harbour Lettings", { stay: true });
  await check("/onboarding");
  for (const step of ["prerequisites", "business-account", "whatsapp-account", "meta-app", "whatsapp-product", "credentials", "connect", "webhook", "send"]) {
    await check(`/onboarding/${step}`);
  }
  await open(page, "/settings/whatsapp", info);
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator("section.connection .badge.sandbox")).toHaveText("SANDBOX");
  await open(page, "/invoices", info);
  await page.getByRole("button", { name: "Load sample data" }).click();
  await expect(page.getByRole("link", { name: "INV-0003", exact: true })).toBeVisible();
  const invoice = await page.getByRole("link", { name: "INV-0003", exact: true }).getAttribute("href");
  for (const url of [
    "/invoices",
    "/invoices/new",
    invoice!,
    `${invoice}/edit`,
    `${invoice}/send`,
    "/tenants",
    "/properties",
    "/settings",
    "/settings/whatsapp",
    "/help",
    "/help/notes",
    "/help/troubleshooting",
    "/help/providers",
    "/onboarding/send",
    "/no-such-page",
  ]) {
    await check(url);
  }
  await open(page, "/tenants", info);
  const tenant = await page.locator("table.cards tbody tr td.card-title a").first().getAttribute("href");
  await check(tenant!);
  expect(found).toEqual([]);
});
