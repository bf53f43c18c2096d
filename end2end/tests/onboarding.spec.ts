import { PASSWORD, eventually, expect, open, signUp, test, uniqueEmail } from "./helpers";
import type { Page, TestInfo } from "@playwright/test";

const stepHeading = (page: Page) => page.locator("section.wizard-step h2");

async function markDone(page: Page, next: string) {
  await page.getByRole("button", { name: "Mark as done and continue" }).click();
  await expect(stepHeading(page)).toHaveText(next);
}

async function logInAgain(page: Page, info: TestInfo, email: string) {
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await open(page, "/login", info);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
}

test("a new user walks the setup wizard with the sandbox to a sent invoice, leaving and resuming half way", async ({ page }, info) => {
  test.setTimeout(120_000);
  const email = uniqueEmail(info, "wizard");
  await signUp(page, info, email, "Harbour Lettings", { stay: true });

  // Sign-up lands in the wizard, at the prerequisites.
  await expect(stepHeading(page)).toHaveText("What you need");
  await expect(page.getByText("0 of 9 steps done")).toBeVisible();
  await expect(page.getByRole("progressbar", { name: "0 of 9 steps done" })).toBeVisible();
  const meta = page.locator("section.wizard-step").getByRole("link", { name: /Meta for Developers/ });
  await expect(meta).toHaveAttribute("target", "_blank");
  await expect(page.getByRole("heading", { name: "No Meta account yet? Try the sandbox" })).toBeVisible();

  await markDone(page, "Create a Meta Business Account");
  await markDone(page, "Set up a WhatsApp Business Account");
  await markDone(page, "Create a Meta app");
  await expect(page.getByText("3 of 9 steps done")).toBeVisible();
  await expect(page.getByRole("link", { name: /Step 3: Create a Meta app/ })).toHaveAttribute("aria-current", "step");

  // Leave half way: the other pages remind, and "Setup guide" resumes at the same step.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Invoices" }).click();
  await expect(page.getByRole("heading", { name: "Invoices", exact: true })).toBeVisible();
  await expect(page.getByText("WhatsApp setup: 3 of 9 steps done.")).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Setup guide" }).click();
  await expect(stepHeading(page)).toHaveText("Create a Meta app");

  // Log out and in again: straight back to the same step.
  await logInAgain(page, info, email);
  await expect(page).toHaveURL(/\/onboarding$/);
  await expect(stepHeading(page)).toHaveText("Create a Meta app");

  await markDone(page, "Add the WhatsApp product");
  await markDone(page, "Get your credentials");
  // Step 5 holds the settings page's connection form; the sandbox is offered beside it.
  await expect(page.getByLabel("Phone Number ID", { exact: true })).toBeVisible();
  await expect(page.getByLabel("Access Token")).toBeVisible();
  await page.getByRole("button", { name: "Use sandbox" }).click();
  await expect(page.locator(".connected")).toContainText("Connected.");
  await expect(page.locator(".connected")).toContainText("Harbour Lettings");
  await expect(page.locator(".connected .badge.sandbox")).toHaveText("SANDBOX");
  await expect(page.locator(".step-status")).toHaveText(/Done with the sandbox/);

  await page.getByRole("link", { name: /Next: Step 6\b/ }).click();
  await expect(stepHeading(page)).toHaveText("Connect in Axis CRM");
  await expect(page.locator(".step-status")).toHaveText(/Done with the sandbox/);
  await page.getByRole("link", { name: /Next: Step 6b/ }).click();
  await expect(stepHeading(page)).toHaveText("Receive delivery reports (webhook)");

  // The webhook step: the values to paste, with copy buttons, then Meta's handshake and first event.
  await expect(page.getByLabel("Callback URL", { exact: true })).toHaveValue(/\/webhooks\/whatsapp\/[0-9a-f]+$/);
  await expect(page.getByLabel("Verify Token", { exact: true })).not.toHaveValue("");
  // The copy buttons need JavaScript; without it they stay hidden and the fields can be selected.
  if (info.project.name === "hydrated") {
    await expect(page.getByRole("button", { name: "Copy Callback URL" })).toBeVisible();
  }
  await expect(page.getByText(/Waiting for Meta's verification request/)).toBeVisible();
  await page.getByRole("button", { name: "Verify and save (sandbox)" }).click();
  await eventually(page, info, async () => {
    await expect(page.getByText(/Meta's verification request arrived/)).toBeVisible();
  });
  await page.getByRole("button", { name: "Send a test event (sandbox)" }).click();
  await eventually(page, info, async () => {
    await expect(page.getByText(/A first event arrived/)).toBeVisible();
  });
  await expect(page.locator(".step-status")).toHaveText(/Done with the sandbox/);

  // Step 7: sample data, pick an invoice with a mobile number, create the template, send.
  await page.getByRole("link", { name: /Next: Step 7/ }).click();
  await expect(stepHeading(page)).toHaveText("Send a test invoice");
  await page.getByRole("button", { name: "Load sample data" }).click();
  const choice = page.getByLabel("Invoice to send");
  await expect(choice).toBeVisible();
  const value = await choice.locator("option", { hasText: "INV-0003" }).getAttribute("value");
  await choice.selectOption(value!);
  await page.getByRole("button", { name: "Show what will be sent" }).click();
  await expect(page).toHaveURL(/\/onboarding\/send\?invoice=\d+$/);
  await expect(page.getByText("Иван Петров · +44 7911 123458")).toBeVisible();
  // The sandbox account starts with the invoice template approved: no detour through review.
  await expect(page.getByRole("heading", { name: "First, a template or a reply" })).toHaveCount(0);
  await expect(page.locator("blockquote.wa-preview")).toContainText("Hello Иван Петров, here is your invoice INV-0003");
  await page.getByRole("button", { name: "Send invoice" }).click();
  await expect(page).toHaveURL(/\/onboarding\/send\?invoice=\d+$/);
  await eventually(page, info, async () => {
    await expect(page.locator(".live-ticks").getByRole("img", { name: "WhatsApp: Read" })).toBeVisible({ timeout: 20_000 });
  });
  await eventually(page, info, async () => {
    await expect(page.locator(".step-status")).toHaveText(/Done with the sandbox/);
  });

  await page.getByRole("button", { name: "Finish setup" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  await expect(page.getByText(/WhatsApp setup:/)).toHaveCount(0);
  // Finished: log-in goes to the invoices again.
  await logInAgain(page, info, email);
  await expect(page).toHaveURL(/\/invoices$/);
});

test("skipping the guide stops it opening, and the help pages explain every error", async ({ page }, info) => {
  const email = uniqueEmail(info, "skip");
  await signUp(page, info, email, "Harbour Lettings", { stay: true });
  await page.getByRole("button", { name: "Skip the setup guide" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  await expect(page.getByText(/WhatsApp setup:/)).toHaveCount(0);
  await logInAgain(page, info, email);
  await expect(page).toHaveURL(/\/invoices$/);

  // Still reachable, and can be taken up again.
  await open(page, "/onboarding", info);
  await expect(page.getByText("You skipped the setup guide")).toBeVisible();

  // Help: troubleshooting has the guide's four cases and the other Graph errors, by anchor.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Help" }).click();
  await page.getByRole("link", { name: /Troubleshooting/ }).first().click();
  await expect(page).toHaveURL(/\/help\/troubleshooting$/);
  for (const title of ["Invalid Access Token", "Phone number not registered", "Rate limit exceeded", "Failed to send message"]) {
    await expect(page.getByRole("heading", { name: title, exact: true })).toBeVisible();
  }
  for (const anchor of ["test-number-recipients", "outside-24-hour-window", "template-problems", "payment-method"]) {
    await expect(page.locator(`section#${anchor}`)).toBeVisible();
  }
  await open(page, "/help/notes", info);
  await expect(page.locator("section#pricing")).toContainText("1 July 2025");
  await expect(page.locator("section#pricing")).toContainText("What is charged since 1 October 2026");
  await expect(page.locator("section#pricing .alert")).toContainText("(unconfirmed)");
  await open(page, "/help/providers", info);
  for (const name of ["Twilio", "360dialog"]) {
    await expect(page.getByRole("heading", { name: new RegExp(name) }).first()).toBeVisible();
  }

  // A WhatsApp error links to its entry: a wrong token on the connection form.
  await open(page, "/settings/whatsapp", info);
  await page.getByLabel("Phone Number ID", { exact: true }).fill("123456789012345");
  await page.getByLabel("Access Token").fill("EAAGm0PX4ZCpsBAthisisnotavalidtoken0000");
  await page.getByRole("button", { name: "Connect" }).click();
  const link = page.getByRole("link", { name: "Troubleshooting: Invalid Access Token" });
  await expect(link).toBeVisible();
  await link.click();
  await expect(page).toHaveURL(/\/help\/troubleshooting#invalid-access-token$/);
  await expect(page.locator("section#invalid-access-token")).toBeVisible();
});
