import { createClient } from "@connectrpc/connect";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { buildDashboard, fitsViewport, launchBrowser, recordCspViolations, screenshot, seriousViolations, signIn, VIEWPORTS } from "../support/dashboard.js";
import { recordingDocker } from "../support/recording-docker.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "dash-admin-token-0123456789abcdef";
const JOIN = "dash-join-token-0123456789abcdef";
const CEILING = 180_000;

describe("the dashboard: services, jobs and deployments on a real agent, in a real browser", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-dash-w-"));
  const release = join(dir, "release");
  const docker = recordingDocker();
  let server: TestServer;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let nodeId = "";
  let refused: string[] = [];

  beforeAll(async () => {
    const ui = buildDashboard();
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      CAPSTAN_JOIN_TOKEN: JOIN,
      RECONCILE_INTERVAL: "300ms",
      HEARTBEAT_FLUSH_INTERVAL: "500ms",
      DASHBOARD_DIR: ui,
    });
    agent = startAgent(["--server", server.url, "--join-token", JOIN, "--state-dir", join(dir, "agent"), "--workdir", dir, "--name", "ui-agent"], {
      PATH: `${docker.dir}:${process.env.PATH}`,
    });
    const nodes = createClient(NodeService, server.withToken(ADMIN).connect);
    nodeId = (await eventually(async () => (await nodes.listNodes({})).nodes.find((n) => n.name === "ui-agent" && n.connected), 60_000, "agent connected")).id;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: VIEWPORTS.desktop });
    refused = recordCspViolations(page);
    await signIn(page, server.url, ADMIN);
  }, CEILING);
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.stop();
  });

  it("applies a service document after a dry run shows the plan, and shows its replica placed on the agent with each node's explanation", async () => {
    await page.getByRole("link", { name: "Services", exact: true }).click();
    const doc = [
      "apiVersion: orion/v1",
      "kind: Config",
      "metadata: {name: ui, environment: dev}",
      "spec:",
      "  services:",
      "    - name: waiter",
      // The quotes keep the printed words out of the command line the agent logs first.
      `      command: echo wai""ting for release; while [ ! -f ${release} ]; do sleep 0.2; done; echo rel""eased now; sleep 600`,
      "      replicas: 1",
      "",
    ].join("\n");
    const textarea = page.getByLabel("Config document (YAML or JSON)");
    // A mistake is shown where the action was, naming the field.
    await textarea.fill(doc.replace("replicas: 1", "replicas: -1"));
    await page.getByRole("button", { name: "Dry run" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 30_000 }).toContain("spec.services[0].replicas");
    await textarea.fill(doc);
    await page.getByRole("button", { name: "Dry run" }).click();
    const plan = page.getByTestId("apply-plan");
    await expect.poll(() => plan.textContent(), { timeout: 30_000 }).toContain("+ waiter (create, replicas 0 → 1)");
    expect(await plan.textContent()).toContain(`new replicas on: ${nodeId}`);
    expect(await plan.textContent()).toContain("dry run");
    await page.getByRole("button", { name: "Apply", exact: true }).click();
    await expect.poll(() => plan.textContent(), { timeout: 30_000 }).toContain("Applied");

    // The list follows the service's replicas as they start, without a reload.
    const row = page.locator('tr[data-row-id="waiter"]');
    await expect.poll(() => row.locator('[data-col="replicas"]').textContent(), { timeout: 60_000 }).toBe("1/1");
    expect(await row.locator('[data-col="nodes"]').textContent()).toBe("ui-agent");
    await screenshot(page, "services");
    expect(await seriousViolations(page)).toEqual([]);

    await row.getByRole("link", { name: "waiter" }).click();
    await page.getByRole("heading", { name: "Service waiter" }).waitFor();
    expect(await page.getByTestId("service-replicas").textContent()).toBe("1/1 running");
    const verdict = page.locator(`tr[data-row-id="${nodeId}"]`).filter({ hasText: "ui-agent" });
    await verdict.waitFor();
    expect(await verdict.locator('[data-col="feasible"]').textContent()).toBe("yes");
    expect(await verdict.locator('[data-col="why"]').textContent()).not.toBe("");
    await screenshot(page, "service");
    expect(await seriousViolations(page)).toEqual([]);
  }, CEILING);

  it("follows a job's logs as they arrive", async () => {
    await page.locator('[data-col="jobId"] a').first().click();
    await page.getByRole("heading", { name: /^Job / }).waitFor();
    const logs = page.getByTestId("job-logs");
    await expect.poll(() => logs.textContent(), { timeout: 60_000 }).toContain("waiting for release");
    expect(await logs.textContent()).not.toContain("released now");
    // The process goes on only now: what it prints next reaches the open page.
    writeFileSync(release, "");
    await expect.poll(() => logs.textContent(), { timeout: 60_000 }).toContain("released now");
    expect(existsSync(release)).toBe(true);
    await screenshot(page, "job");
    expect(await seriousViolations(page)).toEqual([]);
  }, CEILING);

  it("deploys a compose file with the keyboard only, then rolls it back to its first revision", async () => {
    await page.getByRole("link", { name: "Deployments", exact: true }).click();
    await page.getByLabel("Name").focus();
    await page.keyboard.type("web");
    await page.keyboard.press("Tab");
    await page.keyboard.type(nodeId);
    await page.keyboard.press("Tab");
    await page.keyboard.type("services:\n  web:\n    image: nginx:1.27\n");
    // Tab past the upload field to the Deploy button.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Deployment web" }).waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId("deployment-status").textContent(), { timeout: 60_000 }).toBe("running");

    // A second revision, from another client (the dashboard follows it live).
    const deployments = createClient(DeploymentService, server.withToken(ADMIN).connect);
    await deployments.createDeployment({ deploymentId: "web", projectName: "web", nodeId, renderedCompose: "services:\n  web:\n    image: nginx:1.28\n" });
    await expect.poll(() => page.getByTestId("deployment-revision").textContent(), { timeout: 60_000 }).toBe("2");
    await page.getByRole("button", { name: "Roll back to 1" }).click();
    await expect.poll(() => page.getByTestId("deployment-revision").textContent(), { timeout: 60_000 }).toBe("3");
    const third = page.locator('tr[data-row-id="3"]');
    await expect.poll(() => third.locator('[data-col="outcome"]').textContent(), { timeout: 60_000 }).toBe("completed");
    expect(await third.locator('[data-col="action"]').textContent()).toContain("(to 1)");
    expect(docker.calls().filter((c) => c.includes("up")).length).toBeGreaterThanOrEqual(3);
    await screenshot(page, "deployment");
    expect(await seriousViolations(page)).toEqual([]);
  }, CEILING);

  it("fits a phone's screen on the service and deployment pages", async () => {
    const phone = await browser.newPage({ viewport: VIEWPORTS.phone });
    await signIn(phone, server.url, ADMIN);
    for (const path of ["/ui/services/waiter", "/ui/deployments/web", "/ui/jobs"]) {
      await phone.goto(`${server.url}${path}`);
      await phone.getByRole("heading", { level: 1 }).waitFor();
      await phone.locator("table").first().waitFor();
      expect(await fitsViewport(phone)).toBe(true);
      expect(await seriousViolations(phone)).toEqual([]);
      if (path === "/ui/deployments/web") await screenshot(phone, "deployment-phone");
    }
    await phone.close();
  }, CEILING);

  it("an admin deletes the deployment and the service after confirming, and the lists follow", async () => {
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${server.url}/ui/deployments/web`);
    await page.getByRole("button", { name: "Delete deployment" }).click();
    await page.getByRole("heading", { name: "Deployments" }).waitFor({ timeout: 30_000 });
    await page.locator('tr[data-row-id="web"]').waitFor({ state: "detached", timeout: 60_000 });
    expect(docker.calls().some((c) => c.includes("down"))).toBe(true);

    await page.goto(`${server.url}/ui/services/waiter`);
    await page.getByRole("button", { name: "Delete service" }).click();
    await page.getByRole("heading", { name: "Services" }).waitFor({ timeout: 30_000 });
    await page.locator('tr[data-row-id="waiter"]').waitFor({ state: "detached", timeout: 60_000 });
    // Every flow above ran with nothing refused by the page's CSP.
    expect(refused).toEqual([]);
  }, CEILING);
});
