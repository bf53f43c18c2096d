import { test as base, expect, type Page, type TestInfo } from "@playwright/test";

/**
 * Every test fails on a browser console error or an uncaught exception: a CSP violation, a
 * hydration panic or a failed script would otherwise pass unnoticed. Validation answers (4xx
 * from a server function) are expected and not counted.
 */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() !== "error") return;
        if (/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
        errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      await use(errors);
      expect(errors, "browser console errors").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

export const PASSWORD = "correct horse battery";

/** A fresh email per test and project, so parallel tests never collide. */
export function uniqueEmail(info: TestInfo, tag = "user"): string {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return `${tag}-${info.project.name}-${id}@example.com`;
}

/** Opens a page; in the hydrated project, waits until the WASM app has taken over. */
export async function open(page: Page, url: string, info: TestInfo) {
  await page.goto(url);
  if (info.project.name === "hydrated") {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
}

/**
 * Signs up. A new account lands in the setup wizard; unless `stay` is set, the test then goes on
 * from the invoices page as a user who leaves the wizard for later would.
 */
export async function signUp(
  page: Page,
  info: TestInfo,
  email: string,
  business = "Silva Lettings",
  { stay = false }: { stay?: boolean } = {},
) {
  await open(page, "/signup", info);
  await page.getByLabel("Your name").fill("Ana Silva");
  await page.getByLabel("Business name").fill(business);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/onboarding$/);
  if (!stay) {
    await open(page, "/invoices", info);
  }
}

/** Waits until `check` holds; without JavaScript the page cannot update itself, so reload it. */
export async function eventually(page: Page, info: TestInfo, check: () => Promise<void>) {
  if (info.project.name === "hydrated") {
    await check();
    return;
  }
  for (let i = 0; ; i++) {
    try {
      await check();
      return;
    } catch (e) {
      if (i >= 20) throw e;
      await page.waitForTimeout(700);
      await page.reload();
    }
  }
}
