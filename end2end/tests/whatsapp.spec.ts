import { expect, open, signUp, test, uniqueEmail } from "./helpers";
import type { Page, TestInfo } from "@playwright/test";

async function goToWhatsAppSettings(page: Page, info: TestInfo) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await page.getByRole("link", { name: "WhatsApp Integration" }).click();
  await expect(page.getByRole("heading", { name: "WhatsApp Integration", exact: true })).toBeVisible();
  if (info.project.name === "hydrated") {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
}

test("connect with the sandbox, test it, disconnect", async ({ page }, info) => {
  await signUp(page, info, uniqueEmail(info, "wa"), "Harbour Lettings");
  await goToWhatsAppSettings(page, info);

  // The form of the setup guide's step 6, with real labels.
  for (const label of ["Phone Number ID", "Access Token", "Business Account ID (optional)", "Phone Number (optional)"]) {
    await expect(page.getByLabel(label, { exact: true })).toBeVisible();
  }
  await expect(page.getByRole("button", { name: "Connect" })).toBeVisible();

  await page.getByRole("button", { name: "Use sandbox" }).click();
  const card = page.locator("section.connection");
  await expect(card.getByRole("heading", { name: "Harbour Lettings" })).toBeVisible();
  await expect(card.locator(".badge.sandbox")).toHaveText("SANDBOX");
  await expect(card).toContainText("Quality rating");
  await expect(card).toContainText("GREEN");
  await expect(card).toContainText("Permanent system-user token");
  await expect(page.getByRole("textbox", { name: "Callback URL" })).toHaveValue(/\/webhooks\/whatsapp\/[0-9a-f]{32}$/);
  await expect(page.getByRole("textbox", { name: "Verify Token" })).toHaveValue(/^[0-9a-f]{40}$/);

  // The token itself is nowhere in the page: only its last four characters.
  expect(await page.content()).not.toMatch(/SANDBOX[A-Za-z0-9]{20,}/);
  await expect(card).toContainText(/Access token…[A-Za-z0-9]{4} ·/);

  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(card.getByRole("heading", { name: "Harbour Lettings" })).toBeVisible();
  await expect(page.locator(".problem")).toHaveCount(0);

  await page.getByText("Disconnect", { exact: true }).click();
  await page.getByRole("button", { name: "Yes, disconnect" }).click();
  await expect(page.getByRole("button", { name: "Use sandbox" })).toBeVisible();
  await expect(page.locator("section.connection")).toHaveCount(0);
});

test("a bad token shows the Invalid Access Token guidance", async ({ page }, info) => {
  await signUp(page, info, uniqueEmail(info, "badtoken"));
  await goToWhatsAppSettings(page, info);
  const badToken = "EAAGm0PX4ZCpsBAthisisnotavalidtoken0000";
  await page.getByLabel("Phone Number ID", { exact: true }).fill("123456789012345");
  await page.getByLabel("Access Token", { exact: true }).fill(badToken);
  await page.getByRole("button", { name: "Connect" }).click();

  const problem = page.locator(".problem");
  await expect(problem.getByRole("heading", { name: "Invalid Access Token" })).toBeVisible();
  await expect(problem).toContainText("Generate a permanent token");
  await expect(problem).toContainText("error 190");
  await expect(problem).toContainText("trace id");
  // What was typed stays (except the token), and nothing was connected.
  await expect(page.getByLabel("Phone Number ID", { exact: true })).toHaveValue("123456789012345");
  expect(await page.content()).not.toContain(badToken);
  await expect(page.locator("section.connection")).toHaveCount(0);
});

test("field checks run before anything is sent", async ({ page }, info) => {
  await signUp(page, info, uniqueEmail(info, "fields"));
  await goToWhatsAppSettings(page, info);
  await page.getByLabel("Phone Number ID", { exact: true }).fill("+44 7911 123456");
  await page.getByLabel("Access Token", { exact: true }).fill("short");
  await page.getByLabel("Phone Number (optional)", { exact: true }).fill("07911 123456");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.locator("#field-phone_number_id-error")).toContainText("looks like a phone number");
  await expect(page.locator("#field-access_token-error")).toContainText("too short");
  await expect(page.locator("#field-phone_number-error")).toContainText("country code");
  await expect(page.getByLabel("Phone Number ID", { exact: true })).toHaveAttribute("aria-invalid", "true");
});
