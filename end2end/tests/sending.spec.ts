import { eventually, expect, open, signUp, test, uniqueEmail } from "./helpers";
import type { Locator, Page, TestInfo } from "@playwright/test";

const hydrated = (info: TestInfo) => info.project.name === "hydrated";

/** Signs up, connects the sandbox and loads the sample data. */
async function readyToSend(page: Page, info: TestInfo, tag: string) {
  await signUp(page, info, uniqueEmail(info, tag), "Harbour Lettings");
  await open(page, "/settings/whatsapp", info);
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator("section.connection .badge.sandbox")).toHaveText("SANDBOX");

  // Like Meta's test accounts, the sandbox account starts with its template approved: here the
  // invoice template, already chosen, so the first send needs no review.
  const templates = page.locator("section#templates");
  await expect(templates).toContainText("Invoice template: axis_invoice_pdf (en)");
  await expect(templates.getByRole("row").filter({ hasText: "axis_invoice_pdf" }).locator(".badge.template-approved")).toHaveText("APPROVED");

  await open(page, "/invoices", info);
  await page.getByRole("button", { name: "Load sample data" }).click();
  await expect(page.getByRole("link", { name: "INV-0003", exact: true })).toBeVisible();
}

function row(page: Page, number: string): Locator {
  return page.getByRole("row").filter({ has: page.getByRole("link", { name: number, exact: true }) });
}

test("send an invoice from the table and watch the ticks reach read", async ({ page }, info) => {
  test.setTimeout(60_000);
  await readyToSend(page, info, "send");

  await row(page, "INV-0003").getByRole("link", { name: "Send invoice INV-0003 via WhatsApp" }).click();
  await expect(page.getByRole("heading", { name: "Send invoice INV-0003 via WhatsApp" })).toBeVisible();
  // The confirmation says to whom, how (template: the tenant has not written), and the cost.
  await expect(page.getByText("Иван Петров · +44 7911 123458")).toBeVisible();
  await expect(page.getByText(/As the approved invoice template with the PDF attached/)).toBeVisible();
  // Since 1 October 2026 every message is charged: the template inside or outside the window.
  await expect(page.getByText(/Charged by Meta as one utility template message, .* inside or outside the 24-hour window/)).toBeVisible();
  await expect(page.getByText(/not charged|is free/)).toHaveCount(0);
  await expect(page.locator("blockquote.wa-preview")).toContainText("Hello Иван Петров, here is your invoice INV-0003");
  if (hydrated(info)) {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByRole("button", { name: "Send invoice" }).click();

  await expect(page).toHaveURL(/\/invoices$/);
  const r = row(page, "INV-0003");
  await expect(r.locator(".send-status")).toBeVisible();
  await eventually(page, info, async () => {
    await expect(r.getByRole("img", { name: "WhatsApp: Read" })).toBeVisible({ timeout: 15_000 });
  });

  // A second click is refused unless "Send again" is chosen.
  await r.getByRole("link", { name: "Send invoice INV-0003 via WhatsApp" }).click();
  await expect(page.getByText("This invoice was already sent over WhatsApp.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Send again" })).toBeVisible();

  // The invoice's page lists the send, its times and its message id.
  await open(page, "/invoices", info);
  await row(page, "INV-0003").getByRole("link", { name: "INV-0003", exact: true }).click();
  const history = page.locator("section", { has: page.getByRole("heading", { name: "WhatsApp", exact: true }) });
  await expect(history.getByRole("img", { name: "WhatsApp: Read" })).toBeVisible();
  await expect(history).toContainText(/Message id wamid\./);
  await expect(history).toContainText("as a template");
});

test("an undeliverable number shows the Failed to send message guidance", async ({ page }, info) => {
  test.setTimeout(60_000);
  await readyToSend(page, info, "fail");

  // Tom's number is one the sandbox marks undeliverable (Meta's 131026).
  await row(page, "INV-0005").getByRole("link", { name: "Send invoice INV-0005 via WhatsApp" }).click();
  await page.getByRole("button", { name: "Send invoice" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  const r = row(page, "INV-0005");
  await eventually(page, info, async () => {
    await expect(r.getByRole("img", { name: "WhatsApp: Failed: Failed to send message" })).toBeVisible({ timeout: 15_000 });
  });
  await expect(r.getByRole("link", { name: /Retry/ })).toBeVisible();

  await r.getByRole("link", { name: "INV-0005", exact: true }).click();
  const problem = page.locator(".problem");
  await expect(problem.getByRole("heading", { name: "Failed to send message" })).toBeVisible();
  await expect(problem).toContainText("E.164");
  await expect(problem).toContainText("error 131026");
});

test("rows that cannot be sent say why and link to the fix", async ({ page }, info) => {
  await signUp(page, info, uniqueEmail(info, "blocked"));
  await open(page, "/invoices", info);
  await page.getByRole("button", { name: "Load sample data" }).click();
  // Not connected yet: every button is disabled and links to the settings.
  const first = row(page, "INV-0003");
  await expect(first.getByRole("button", { name: "Send invoice INV-0003 via WhatsApp" })).toBeDisabled();
  await expect(first.getByRole("link", { name: "Not connected" })).toHaveAttribute("href", "/settings/whatsapp");

  await open(page, "/settings/whatsapp", info);
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator("section.connection .badge.sandbox")).toHaveText("SANDBOX");
  await open(page, "/invoices", info);
  // Noor has no phone number; Grace's is a landline; INV-0004 is a draft.
  await expect(row(page, "INV-0007").getByRole("button", { name: "Send invoice INV-0007 via WhatsApp" })).toBeDisabled();
  await expect(row(page, "INV-0007").getByRole("link", { name: "No phone" })).toBeVisible();
  await expect(row(page, "INV-0006").getByRole("link", { name: "Landline" })).toBeVisible();
  await expect(row(page, "INV-0004").getByRole("link", { name: "Draft" })).toBeVisible();
  await expect(row(page, "INV-0003").getByRole("link", { name: "Send invoice INV-0003 via WhatsApp" })).toBeVisible();
});

test("a tenant's reply opens the 24-hour window, and the invoice then goes as a document", async ({ page }, info) => {
  test.setTimeout(60_000);
  await readyToSend(page, info, "window");
  await open(page, "/tenants", info);
  await page.getByRole("link", { name: "Ana Pereira" }).click();
  await expect(page.getByRole("heading", { name: "24-hour window" })).toBeVisible();
  await expect(page.locator(".window.closed")).toBeVisible();
  if (hydrated(info)) {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByRole("button", { name: "Simulate a reply from this tenant (sandbox)" }).click();
  await eventually(page, info, async () => {
    await expect(page.locator(".window.open")).toBeVisible({ timeout: 10_000 });
  });
  await expect(page.locator(".messages")).toContainText("Simulated by the sandbox");

  await open(page, "/invoices", info);
  await row(page, "INV-0008").getByRole("link", { name: "Send invoice INV-0008 via WhatsApp" }).click();
  await expect(page.getByText(/As a PDF document: the tenant wrote to you recently/)).toBeVisible();
  // One service message, charged since 1 October 2026.
  await expect(page.getByText(/^Charged by Meta as one service message: the invoice PDF with its caption, sent inside the tenant's 24-hour window/)).toBeVisible();
});
