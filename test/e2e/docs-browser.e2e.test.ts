import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser) {
  // eslint-disable-next-line no-console
  console.warn(`docs browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
}

describe.skipIf(!haveBrowser)("API docs in a real browser", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-docs-")), "c.db")}` });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("Swagger UI at /docs renders the operations from /openapi.json", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector(".opblock-summary-path", { timeout: 30_000 });
    const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.textContent?.trim() ?? ""));
    expect(paths).toContain("/api/v1/nodes/register");
    expect(paths).toContain("/health");
    await page.close();
  });

  it("ReDoc at /redoc renders the API", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/redoc`);
    await page.waitForSelector("h1", { timeout: 30_000 });
    expect(await page.textContent("h1")).toContain("Capstan");
    await page.close();
  });
});
