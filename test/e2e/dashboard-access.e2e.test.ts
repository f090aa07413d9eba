import { createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { buildDashboard, launchBrowser, screenshot, seriousViolations, signIn, VIEWPORTS } from "../support/dashboard.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "dash-admin-token-0123456789abcdef";
const CEILING = 120_000;

describe("the dashboard: what each token may do, in a real browser", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-dash-a-"));
  let server: TestServer;
  let browser: Browser;
  let readSecret = "";
  let nodeId = "";

  beforeAll(async () => {
    const ui = buildDashboard();
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, DASHBOARD_DIR: ui });
    const admin = server.withToken(ADMIN).connect;
    readSecret = (await createClient(TokenService, admin).createToken({ name: "viewer", scope: TokenScope.READ })).secret;
    nodeId = (await createClient(NodeService, admin).registerNode({ name: "n1", address: "10.0.0.1" })).nodeId;
    const deployments = createClient(DeploymentService, admin);
    await deployments.apply({ apiVersion: "orion/v1", kind: "Config", spec: { services: [{ name: "api", command: "sleep 600", replicas: 1 }] } });
    await deployments.createDeployment({ deploymentId: "web", projectName: "web", nodeId, renderedCompose: "services:\n  web:\n    image: nginx:1.27\n" });
    browser = await launchBrowser();
  }, CEILING);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("a read token is offered no mutating action, and a forged mutating call with it is refused", async () => {
    const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    await signIn(page, server.url, readSecret);
    // It follows the event stream too (its topics: everything but tokens).
    await expect.poll(() => page.locator("header .live").textContent(), { timeout: 30_000 }).toBe("live");
    expect(await page.getByRole("link", { name: "Tokens" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Audit" }).count()).toBe(0);
    for (const [path, ready] of [
      ["/ui/nodes", "tbody tr"],
      [`/ui/nodes/${nodeId}`, "dl.facts"],
      ["/ui/services", "tbody tr"],
      ["/ui/services/api", "dl.facts"],
      ["/ui/deployments", "tbody tr"],
      ["/ui/deployments/web", "dl.facts"],
      ["/ui/jobs", "tbody tr"],
    ] as const) {
      await page.goto(`${server.url}${path}`);
      await page.locator(ready).first().waitFor({ timeout: 30_000 });
      expect({ path, mutating: await page.locator('[data-mutating="true"]').count() }).toEqual({ path, mutating: 0 });
      expect(await page.locator("textarea").count()).toBe(0);
    }
    // The token-only pages are not there for it either.
    await page.goto(`${server.url}/ui/tokens`);
    await page.getByText("No such page").waitFor();

    // The same call the admin's Delete button makes, forged in the page with the read token: refused.
    const forged = await page.evaluate<{ status: number; body: { code: string } }>(`(async () => {
      const res = await fetch("/capstan.v1.DeploymentService/DeleteService", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer " + sessionStorage.getItem("capstan.token") },
        body: JSON.stringify({ serviceName: "api" }),
      });
      return { status: res.status, body: await res.json() };
    })()`);
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe("permission_denied");
    const still = await createClient(DeploymentService, server.withToken(ADMIN).connect).getService({ serviceName: "api" });
    expect(still.service?.name).toBe("api");
    await page.close();
  }, CEILING);

  it("an admin creates a token and reads the audit trail; chunks, tokens and audit pass the accessibility scan", async () => {
    const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    await signIn(page, server.url, ADMIN);
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("heading", { name: "Tokens" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("ci-bot");
    await page.getByLabel("Scope").selectOption({ label: "write" });
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByTestId("token-secret").textContent({ timeout: 30_000 });
    const who = await createClient(TokenService, server.withToken(secret!).connect).whoAmI({});
    expect(who.name).toBe("ci-bot");
    // The list follows the tokens topic: the new token shows without a reload.
    await page.locator("tbody tr", { hasText: "ci-bot" }).waitFor({ timeout: 30_000 });
    // An empty name is refused where it was typed, naming the field.
    await page.getByLabel("Name", { exact: true }).fill("");
    await page.getByRole("button", { name: "Create token" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 30_000 }).toContain("name");
    await screenshot(page, "tokens");
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole("link", { name: "Audit" }).click();
    await page.locator("tbody tr", { hasText: "CreateToken" }).first().waitFor({ timeout: 30_000 });
    expect(await seriousViolations(page)).toEqual([]);

    // A document uploaded as a file, then dry-run: the plan names the change, nothing changes.
    await page.getByRole("link", { name: "Services", exact: true }).click();
    const doc = "apiVersion: orion/v1\nkind: Config\nspec:\n  services:\n    - name: uploaded\n      command: sleep 600\n";
    await page.getByLabel("Or upload a file").setInputFiles({ name: "orion.yaml", mimeType: "application/yaml", buffer: Buffer.from(doc) });
    await expect.poll(() => page.getByLabel("Config document (YAML or JSON)").inputValue(), { timeout: 30_000 }).toBe(doc);
    await page.getByRole("button", { name: "Dry run" }).click();
    await expect.poll(() => page.getByTestId("apply-plan").textContent(), { timeout: 30_000 }).toContain("+ uploaded (create, replicas 0 → 1)");
    await expect(createClient(DeploymentService, server.withToken(ADMIN).connect).getService({ serviceName: "uploaded" })).rejects.toThrow(/not found/i);

    await page.getByRole("link", { name: "Chunks" }).click();
    await page.getByRole("heading", { name: "Chunks" }).waitFor();
    await page.locator("dl.facts").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  }, CEILING);
});
