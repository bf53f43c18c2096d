// Prints an HTML invoice to PDF with Chromium (warm browser, one page), N times; prints the median.
const { chromium } = require("playwright-core");
const fs = require("fs");
(async () => {
  const [htmlPath, pdfPath, nArg] = process.argv.slice(2);
  const n = Number(nArg || 30);
  const html = fs.readFileSync(htmlPath, "utf8");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  let pdf;
  await page.setContent(html);
  pdf = await page.pdf({ format: "A4" }); // warm-up
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await page.setContent(html);
    pdf = await page.pdf({ format: "A4" });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  fs.writeFileSync(pdfPath, pdf);
  times.sort((a, b) => a - b);
  console.log(`chromium_median_ms=${times[Math.floor(n / 2)].toFixed(3)} chromium_bytes=${pdf.length} iterations=${n}`);
  await browser.close();
})();
