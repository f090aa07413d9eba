import { createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { buildDashboard, fitsViewport, launchBrowser, recordCspViolations, screenshot, seriousViolations, signIn, VIEWPORTS } from "../support/dashboard.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "dash-admin-token-0123456789abcdef";
const JOIN = "dash-join-token-0123456789abcdef";
const CEILING = 120_000;

describe("the dashboard: serving, sign-in, overview and live nodes in a real browser", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-dash-"));
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    const ui = buildDashboard();
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      CAPSTAN_JOIN_TOKEN: JOIN,
      HEARTBEAT_TTL: "4s",
      HEARTBEAT_FLUSH_INTERVAL: "300ms",
      HEARTBEAT_HISTORY_STEP: "100ms",
      DASHBOARD_DIR: ui,
    });
    browser = await launchBrowser();
  }, CEILING);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("serves /ui with a CSP allowing only its own origin, hashed assets cached for long, client routes as the page", async () => {
    const page = await fetch(`${server.url}/ui`);
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy") ?? "";
    for (const rule of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      expect(csp).toContain(rule);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    // No inline script: the only script is a file of this origin.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const js = /src="(\/ui\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    const asset = await fetch(`${server.url}${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // Sent compressed to a client that accepts gzip (fetch does, and decodes it), whole to one that does not.
    expect(asset.headers.get("content-encoding")).toBe("gzip");
    const script = await asset.text();
    const plain = await fetch(`${server.url}${js}`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(script);
    // A client route (a node's page) gets the same page; a missing asset is a 404, not the page.
    const route = await fetch(`${server.url}/ui/nodes/some-node`);
    expect(await route.text()).toBe(html);
    expect((await fetch(`${server.url}/ui/assets/main-NOPE.js`)).status).toBe(404);
    // Nothing outside the build is served, however the path is spelt.
    expect((await fetch(`${server.url}/ui/assets/..%2f..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/assets/%2e%2e/%2e%2e/%2e%2e/package.json`)).status).not.toBe(200);
    expect((await fetch(`${server.url}/ui`, { method: "HEAD" })).headers.get("content-security-policy")).toContain("default-src 'self'");
  });

  it("says how to build the dashboard when its files are missing", async () => {
    const unbuilt = await startTestServer({ DATABASE_URL: `file:${join(dir, "u.db")}`, DASHBOARD_DIR: join(dir, "not-built") });
    try {
      const res = await fetch(`${unbuilt.url}/ui`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain("npm run build");
    } finally {
      await unbuilt.stop();
    }
  });

  it("signs in with the keyboard only; a wrong token is refused where it was typed", async () => {
    const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel("API token").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.type("not-the-right-token-0123456789");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 30_000 }).toContain("Unauthenticated");
    await page.close();

    const ok = await browser.newPage({ viewport: VIEWPORTS.desktop });
    await signIn(ok, server.url, ADMIN);
    expect(await ok.getByRole("heading", { level: 1 }).textContent()).toBe("Overview");
    // The token is kept for the tab's session only.
    expect(await ok.evaluate('sessionStorage.getItem("capstan.token")')).toBe(ADMIN);
    expect(await ok.evaluate("localStorage.length")).toBe(0);
    // Admin sees tokens and audit.
    await ok.getByRole("link", { name: "Tokens" }).waitFor();
    await ok.close();
  }, CEILING);

  it("a node registering and heartbeating appears live, turns offline after the TTL without a reload, and its page charts its metrics", async () => {
    const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    const refused = recordCspViolations(page);
    await signIn(page, server.url, ADMIN);
    await page.getByRole("link", { name: "Nodes", exact: true }).click();
    await page.getByRole("heading", { name: "Nodes" }).waitFor();
    // Marks this page load: a reload would lose it.
    await page.evaluate("window.loadMark = 42");

    const nodes = createClient(NodeService, server.withToken(JOIN).connect);
    const { nodeId, nodeToken } = await nodes.registerNode({ name: "dash-node", address: "10.0.0.7", labels: { zone: "a" }, tags: ["gpu"], agentVersion: "9.9.9" });
    const beats = createClient(NodeService, server.withToken(nodeToken).connect);
    const row = page.locator(`tr[data-row-id="${nodeId}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain("zone=a");
    for (const cpu of [20, 35, 50]) {
      await beats.heartbeat({ nodeId, cpuUsage: cpu, memUsage: 40 + cpu / 10, diskFreeMb: 1000 });
      await expect.poll(() => row.locator('[data-col="cpu"]').textContent(), { timeout: 30_000 }).toBe(`${cpu.toFixed(1)}%`);
    }
    expect(await row.locator('[data-col="status"]').textContent()).toBe("online");
    await screenshot(page, "nodes");
    expect(await seriousViolations(page)).toEqual([]);

    // No more heartbeats: the liveness monitor marks it offline after HEARTBEAT_TTL, and the row follows.
    await expect.poll(() => row.locator('[data-col="status"]').textContent(), { timeout: 60_000 }).toBe("offline");
    expect(await page.evaluate("window.loadMark")).toBe(42);

    // Search filters the table.
    await page.getByLabel("Search nodes").fill("no-such-node");
    await row.waitFor({ state: "detached" });
    await page.getByLabel("Search nodes").fill("dash");
    await row.waitFor();

    await row.getByRole("link", { name: "dash-node" }).click();
    await page.getByRole("heading", { name: "Node dash-node" }).waitFor();
    await page.locator(".chart canvas").waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("node-status").textContent()).toBe("offline");
    await screenshot(page, "node");
    expect(await seriousViolations(page)).toEqual([]);
    // An admin drains it from here, and back.
    await page.getByRole("button", { name: "Drain" }).click();
    await expect.poll(() => page.getByTestId("node-scheduling").textContent(), { timeout: 30_000 }).toBe("draining, ineligible");
    await page.getByRole("button", { name: "Stop draining" }).click();
    await expect.poll(() => page.getByTestId("node-scheduling").textContent(), { timeout: 30_000 }).toBe("eligible");
    // The chart, the tables and the styles needed nothing the CSP refuses.
    expect(refused).toEqual([]);
    await page.close();
  }, CEILING);

  it("after its event stream drops, the page resumes from the last index it saw and misses nothing", async () => {
    // The page reaches the server through a proxy the test can cut, as a network drop would.
    const proxy = await startTcpProxy("127.0.0.1", server.app.port);
    const via = `http://127.0.0.1:${proxy.port}`;
    const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    const watches: string[] = [];
    await page.route("**/capstan.v1.EventService/WatchEvents", (route) => {
      watches.push(route.request().postData() ?? "");
      return route.continue();
    });
    try {
      await signIn(page, via, ADMIN);
      await page.getByRole("link", { name: "Nodes", exact: true }).click();
      await page.locator("tbody tr").first().waitFor();
      const badge = page.locator("header .live");
      await expect.poll(() => badge.textContent(), { timeout: 30_000 }).toBe("live");
      await proxy.cut();
      await expect.poll(() => badge.textContent(), { timeout: 30_000 }).toBe("reconnecting");
      // Registered while the page is cut off: only the resumed stream can bring it (the list is not read again).
      await createClient(NodeService, server.withToken(JOIN).connect).registerNode({ name: "while-away", address: "10.0.0.8" });
      await proxy.restore();
      await page.locator("tbody tr", { hasText: "while-away" }).waitFor({ timeout: 60_000 });
      expect(await badge.textContent()).toBe("live");
      expect(watches.length).toBeGreaterThanOrEqual(2);
      expect(watches[0]).not.toContain("fromIndex");
      expect(watches.at(-1)).toMatch(/"fromIndex":"\d+"/);
    } finally {
      await page.close();
      await proxy.close();
    }
  }, CEILING);

  it("the overview and nodes pages fit a phone's screen and pass the accessibility scan", async () => {
    const page = await browser.newPage({ viewport: VIEWPORTS.phone });
    await signIn(page, server.url, ADMIN);
    await page.getByText(/\d+ online/).waitFor();
    expect(await fitsViewport(page)).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "overview-phone");
    await page.getByRole("link", { name: "Nodes", exact: true }).click();
    await page.locator("tbody tr").first().waitFor();
    expect(await fitsViewport(page)).toBe(true);
    await page.close();

    const wide = await browser.newPage({ viewport: VIEWPORTS.desktop });
    await signIn(wide, server.url, ADMIN);
    await wide.getByText(/\d+ online/).waitFor();
    expect(await seriousViolations(wide)).toEqual([]);
    await screenshot(wide, "overview");
    await wide.close();
  }, CEILING);
});
