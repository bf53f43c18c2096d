// The WhatsApp of today: customers known by a username only, templates Meta archives, and the
// self-test that proves the round trip before a tenant relies on it. The sandbox plays Meta.
import { eventually, expect, open, signUp, test, uniqueEmail } from "./helpers";
import type { Locator, Page, TestInfo } from "@playwright/test";

const hydrated = (info: TestInfo) => info.project.name === "hydrated";

async function connectSandbox(page: Page, info: TestInfo, tag: string) {
  await signUp(page, info, uniqueEmail(info, tag), "Harbour Lettings");
  await open(page, "/settings/whatsapp", info);
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator("section.connection .badge.sandbox")).toHaveText("SANDBOX");
}

async function play(page: Page, info: TestInfo, what: string) {
  await open(page, "/settings/whatsapp", info);
  const plays = page.locator("section#sandbox-plays");
  await plays.getByLabel("What happens").selectOption({ label: what });
  await plays.getByRole("button", { name: "Play (sandbox)" }).click();
  await expect(page.locator("section#sandbox-plays")).toBeVisible();
}

function row(page: Page, number: string): Locator {
  return page.getByRole("row").filter({ has: page.getByRole("link", { name: number, exact: true }) });
}

test("a customer who writes from a username becomes a tenant and is sent an invoice", async ({ page }, info) => {
  test.setTimeout(60_000);
  await connectSandbox(page, info, "username");
  await play(page, info, "A new customer writes from a WhatsApp username (no number shared)");

  await open(page, "/tenants", info);
  await eventually(page, info, async () => {
    await expect(page.getByRole("link", { name: "Ada Lovelace" })).toBeVisible({ timeout: 10_000 });
  });
  const tenant = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Ada Lovelace" }) });
  await expect(tenant).toContainText("@ada_flat3 (WhatsApp username)");
  // No number was shared, and none is made up.
  await expect(tenant).not.toContainText("+");

  await open(page, "/invoices/new", info);
  await page.getByLabel("Tenant").selectOption({ label: "Ada Lovelace" });
  await page.getByLabel("Description, line 1").fill("Rent, December");
  await page.getByLabel("Quantity, line 1").fill("1");
  await page.getByLabel("Unit price, line 1").fill("950");
  await page.getByLabel("Tax rate in percent, line 1").fill("0");
  await page.getByRole("button", { name: "Save and issue" }).click();
  await expect(page.getByRole("heading", { name: /Invoice INV-0001/ })).toBeVisible();

  await open(page, "/invoices", info);
  await row(page, "INV-0001").getByRole("link", { name: "Send invoice INV-0001 via WhatsApp" }).click();
  await expect(page.getByText("@ada_flat3 (WhatsApp username)")).toBeVisible();
  // She wrote a moment ago: her window is open, so the PDF goes as a document.
  await expect(page.getByText(/As a PDF document: the tenant wrote to you recently/)).toBeVisible();
  if (hydrated(info)) {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByRole("button", { name: "Send invoice" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  await eventually(page, info, async () => {
    await expect(row(page, "INV-0001").getByRole("img", { name: "WhatsApp: Read" })).toBeVisible({ timeout: 15_000 });
  });
});

test("Meta archives the invoice template: the settings page and the confirmation say what to do", async ({ page }, info) => {
  test.setTimeout(60_000);
  await connectSandbox(page, info, "archived");
  await open(page, "/invoices", info);
  await page.getByRole("button", { name: "Load sample data" }).click();
  await expect(page.getByRole("link", { name: "INV-0003", exact: true })).toBeVisible();

  await play(page, info, "Meta archives the invoice template");
  await eventually(page, info, async () => {
    await open(page, "/settings/whatsapp", info);
    await expect(page.locator("section#templates .badge.template-archived")).toHaveText("ARCHIVED", { timeout: 5_000 });
  });
  await expect(page.locator("section#templates .template-notice")).toContainText("Meta archived the invoice template");
  await expect(page.locator("section#templates").getByRole("button", { name: "Create invoice template" })).toBeEnabled();

  // INV-0003's tenant never wrote, so it needs the template: the confirmation says why not.
  await open(page, "/invoices", info);
  await row(page, "INV-0003").getByRole("link", { name: "Send invoice INV-0003 via WhatsApp" }).click();
  const why = page.getByRole("alert").filter({ hasText: "Meta archived the invoice template because it was not used for 12 months" });
  await expect(why).toBeVisible();
  await expect(why).toContainText("create the invoice template again");
  await expect(page.getByRole("button", { name: "Send invoice" })).toHaveCount(0);
});

test("the self-test sends to my own number and shows the round trip", async ({ page }, info) => {
  test.setTimeout(60_000);
  await connectSandbox(page, info, "selftest");
  const card = page.locator("section#self-test");
  await expect(card.getByRole("heading", { name: "Send a test message to my own number" })).toBeVisible();
  // Bad input is refused at its field and sends nothing.
  await card.getByLabel("Your WhatsApp number").fill("07911 12E456");
  await card.getByRole("button", { name: "Send a test message" }).click();
  await expect(page.locator("section#self-test").getByText(/remove the "E"/)).toBeVisible();
  await expect(page.locator("section#self-test .round-trip")).toHaveCount(0);

  await page.locator("section#self-test").getByLabel("Your WhatsApp number").fill("07911 123456");
  await page.locator("section#self-test").getByRole("button", { name: "Send a test message" }).click();
  await expect(page.locator("section#self-test .round-trip").getByRole("heading", { name: "Test to +447911123456" })).toBeVisible();
  await eventually(page, info, async () => {
    await expect(page.locator("section#self-test").getByText(/^The round trip works/)).toBeVisible({ timeout: 15_000 });
  });
  const steps = page.locator("section#self-test .trip-steps li.done");
  await expect(steps).toHaveCount(5);
  await expect(page.locator("section#self-test .trip-steps")).toContainText("Read on your phone");
  await expect(page.locator("section#self-test .trip-steps")).toContainText("Status webhook received by Axis CRM");
  // The number is offered again next time.
  await open(page, "/settings/whatsapp", info);
  await expect(page.locator("section#self-test").getByLabel("Your WhatsApp number")).toHaveValue("+447911123456");
});
