import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADMIN = "admin-secret-0123456789abcdef";

/** What the attacker's page reports back: each attempt's outcome as the page saw it. */
type Outcome = { status?: number; body?: string; error?: string };

/**
 * The attacks run from pages that the test serves itself (Playwright's request
 * interception answers the page's own URL), on names Chromium resolves to the
 * server's loopback address, as a rebinding DNS server would.
 */
async function attackerPage(browser: Browser, pageUrl: string): Promise<Page> {
  const page = await browser.newPage();
  await page.route(pageUrl, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>cute cats</title>" }));
  await page.goto(pageUrl);
  return page;
}

describe("a web page attacking a Capstan in dev mode, in a real browser (headless Chromium)", () => {
  let server: TestServer;
  let browser: Browser;
  let port = "";

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run installs it), or set CHROMIUM_PATH`);
    const dir = mkdtempSync(join(tmpdir(), "capstan-browser-"));
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "1", CAPSTAN_ADMIN_TOKEN: ADMIN });
    port = new URL(server.url).port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        // The attacker's names resolve to the victim's loopback, as after DNS rebinding.
        "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1, MAP evil.example 127.0.0.1",
        // Chromium alone (not every browser) blocks public pages from reaching private addresses; the
        // server must refuse these calls itself, so take that help away.
        "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks",
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const tokenNames = async () =>
    ((await httpRequest(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.tokens as Array<{ name: string }>).map((t) => t.name);
  const nodeIds = async () =>
    ((await httpRequest(`${server.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.nodes as Array<{ id: string }>).map((n) => n.id);

  it("a page on another site cannot create an admin token, with a simple text/plain POST or a JSON one", async () => {
    const page = await attackerPage(browser, "http://evil.example/cats.html");
    const outcomes = await page.evaluate(async (target: string) => {
      const body = JSON.stringify({ name: "stolen", scope: "admin" });
      const out: Array<{ status?: number; error?: string }> = [];
      // No preflight: the browser sends it, the page cannot read the answer.
      const simple = await fetch(`${target}/api/v1/tokens`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain;charset=UTF-8" }, body });
      out.push({ status: simple.status });
      // A body without any type: also no preflight.
      await fetch(`${target}/api/v1/tokens`, { method: "POST", mode: "no-cors", body: new Blob([body]) });
      // JSON needs a preflight, which the server refuses.
      try {
        const res = await fetch(`${target}/api/v1/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body });
        out.push({ status: res.status });
      } catch (err) {
        out.push({ error: String(err) });
      }
      return out;
    }, server.url);
    expect(outcomes[1].error).toMatch(/Failed to fetch/);
    expect(await tokenNames()).not.toContain("stolen");
    await page.close();
  });

  it("a page rebound onto the server's address cannot create a token or read the answer", async () => {
    const page = await attackerPage(browser, `http://rebind.evil.example:${port}/cats.html`);
    // Same origin now: the page may read whatever the server answers.
    const outcome: Outcome = await page.evaluate(async () => {
      const res = await fetch("/api/v1/tokens", { method: "POST", headers: { "content-type": "text/plain;charset=UTF-8" }, body: JSON.stringify({ name: "rebound", scope: "admin" }) });
      return { status: res.status, body: await res.text() };
    });
    expect(outcome.status).toBe(403);
    expect(outcome.body).toContain("ALLOWED_HOSTS");
    expect(outcome.body).not.toContain("cap_");
    expect(await tokenNames()).not.toContain("rebound");
    await page.close();
  });

  it("a page on another site cannot register an agent over /ws to receive launch commands", async () => {
    const page = await attackerPage(browser, "http://evil.example/cats.html");
    const outcome = await page.evaluate(
      (wsUrl: string) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(wsUrl);
          ws.onopen = () => ws.send(JSON.stringify({ type: "hello", payload: { nodeId: "browser-agent", name: "browser-agent" } }));
          ws.onerror = () => resolve("error");
          ws.onclose = (e) => resolve(`closed ${e.code}`);
          setTimeout(() => resolve("still open"), 3000);
        }),
      `${server.url.replace("http", "ws")}/ws`,
    );
    expect(outcome).not.toBe("still open");
    expect(await nodeIds()).not.toContain("browser-agent");
    await page.close();
  });

  it("the server's own pages still call it (same origin), so the check is not refusing everything", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/health`);
    const outcome: Outcome = await page.evaluate(async () => {
      const res = await fetch("/api/v1/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "from-docs", scope: "read" }) });
      return { status: res.status };
    });
    expect(outcome.status).toBe(201);
    expect(await tokenNames()).toContain("from-docs");
    await page.close();
  });
});
