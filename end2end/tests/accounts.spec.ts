import { PASSWORD, expect, open, signUp, test, uniqueEmail } from "./helpers";

test("sign up, log out, log in", async ({ page }, info) => {
  const email = uniqueEmail(info);
  await signUp(page, info, email);
  await expect(page.getByRole("heading", { name: "Invoices", exact: true })).toBeVisible();
  await expect(page.locator(".business")).toHaveText("Silva Lettings");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const name of ["Invoices", "Setup guide", "Help", "Settings"]) {
    await expect(nav.getByRole("link", { name })).toBeVisible();
  }

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  // The session is over: the app is closed again.
  await open(page, "/invoices", info);
  await expect(page).toHaveURL(/\/login\?next=%2Finvoices$/);

  await page.getByLabel("Email").fill(email.toUpperCase());
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/invoices$/);
  await expect(page.locator(".business")).toHaveText("Silva Lettings");
});

test("a logged-out visit to /invoices lands on /login", async ({ page }, info) => {
  await open(page, "/invoices", info);
  await expect(page).toHaveURL(/\/login\?next=%2Finvoices$/);
  await expect(page.getByRole("heading", { name: "Log in", exact: true })).toBeVisible();
});

test("sign-up errors show beside their fields and keep what was typed", async ({ page }, info) => {
  await open(page, "/signup", info);
  await page.getByLabel("Your name").fill("Ana Silva");
  await page.getByLabel("Business name").fill("Silva Lettings");
  await page.getByLabel("Email").fill("ana@");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page.locator("#field-email-error")).toHaveText(/valid email address/);
  await expect(page.locator("#field-password-error")).toHaveText(/at least 10 characters/);
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Business name")).toHaveValue("Silva Lettings");
  await expect(page).toHaveURL(/\/signup$/);
});

test("a taken email is refused and a wrong password is explained", async ({ page, browser }, info) => {
  const email = uniqueEmail(info, "taken");
  await signUp(page, info, email);

  const other = await browser.newPage();
  await open(other, "/signup", info);
  await other.getByLabel("Your name").fill("Someone Else");
  await other.getByLabel("Business name").fill("Other Lettings");
  await other.getByLabel("Email").fill(email.toUpperCase());
  await other.getByLabel("Password").fill(PASSWORD);
  await other.getByRole("button", { name: "Create account" }).click();
  await expect(other.locator("#field-email-error")).toHaveText(/already exists/);

  await open(other, "/login", info);
  await other.getByLabel("Email").fill(email);
  await other.getByLabel("Password").fill("not the password");
  await other.getByRole("button", { name: "Log in" }).click();
  await expect(other.getByRole("alert").filter({ hasText: "do not match" })).toBeVisible();
  await other.close();
});

test("settings save the business name shown in the header", async ({ page }, info) => {
  await signUp(page, info, uniqueEmail(info, "settings"));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { name: "Settings", exact: true })).toBeVisible();
  if (info.project.name === "hydrated") {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByLabel("Business name").fill("");
  await page.getByRole("button", { name: "Save account details" }).click();
  await expect(page.locator("#field-business_name-error")).toHaveText("Enter your business name.");
  await page.getByLabel("Business name").fill("Silva & Daughters");
  await page.getByRole("button", { name: "Save account details" }).click();
  await expect(page.locator(".business")).toHaveText("Silva & Daughters");
});
