import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/agent-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const JOIN = "join-token-0123456789abcdef";

/** A WebSocket client that collects the JSON messages it receives. */
function connect(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const received: any[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.on("message", (d) => received.push(JSON.parse(String(d))));
  ws.on("close", (code, reason) => (closed = { code, reason: String(reason) }));
  const open = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, received, open, closed: () => closed };
}

describe("JSON agents on /ws", () => {
  let server: TestServer;
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-ws-")), "c.db")}`, CAPSTAN_JOIN_TOKEN: JOIN, RECONCILE_INTERVAL: "200ms" });
  });
  afterAll(async () => server?.stop());

  it("refuses seed 002's agent with a bad token, with close code 1008", async () => {
    const c = connect(`${server.url.replace("http", "ws")}/ws`, { authorization: "Bearer nope-nope-nope-nope", "x-agent-hostname": "intruder" });
    await c.open;
    await eventually(() => c.closed(), 5000, "closed");
    expect(c.closed()?.code).toBe(1008);
  });

  it("runs seed 002's deploy flow: POST /deploy sends DEPLOY_COMPOSE, the agent's reply completes the job", async () => {
    const agent = connect(`${server.url.replace("http", "ws")}/ws`, {
      authorization: `Bearer ${JOIN}`,
      "x-agent-version": "1.2.0",
      "x-agent-architecture": "linux-amd64",
      "x-agent-hostname": "builder-01",
    });
    await agent.open;
    const listed = await eventually(async () => (await rest("GET", "/agents")).json.agents.find((a: any) => a.hostname === "builder-01"), 5000, "agent listed");
    expect(listed).toMatchObject({ status: "online", version: "1.2.0", architecture: "amd64" });
    const compose = "services:\n  web:\n    image: nginx\n";
    const deploy = await rest("POST", "/deploy", { project_name: "shop", compose_file_base64: Buffer.from(compose).toString("base64"), agent_id: listed.id });
    expect(deploy.status).toBe(200);
    expect(deploy.json).toMatchObject({ deployment_id: "shop", status: "queued" });
    const command = await eventually(() => agent.received.find((m) => m.type === "DEPLOY_COMPOSE"), 5000, "command received");
    expect(command).toEqual({ id: deploy.json.job_id, type: "DEPLOY_COMPOSE", payload: { project_name: "shop", compose_file_base64: Buffer.from(compose).toString("base64") } });
    agent.ws.send(JSON.stringify({ job_id: command.id, status: "IN_PROGRESS", logs: "pulling nginx" }));
    agent.ws.send(JSON.stringify({ job_id: command.id, status: "COMPLETED", logs: "started web-1\n" }));
    await eventually(async () => (await rest("GET", `/api/v1/jobs/${command.id}`)).json.job.status === "completed", 5000, "job completed");
    const statusCall = rest("GET", "/projects/shop/status");
    const statusCommand = await eventually(() => agent.received.find((m) => m.type === "STATUS"), 5000, "status command");
    agent.ws.send(JSON.stringify({ job_id: statusCommand.id, status: "COMPLETED", logs: "web-1 running", data: { containers: 1 } }));
    const status = await statusCall;
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ job_id: statusCommand.id, status: "completed" });
    expect(status.json.logs).toContain("web-1 running");
    agent.ws.close();
  });

  it("answers seed 002's errors: 404 for an unknown agent or project, 503 for an agent that is not connected", async () => {
    expect((await rest("POST", "/deploy", { project_name: "x", compose_file_base64: "c2VydmljZXM6IHt9", agent_id: "ghost" })).status).toBe(404);
    expect((await rest("POST", "/projects/nope/stop", {})).status).toBe(404);
    expect((await rest("GET", "/projects/nope/status")).status).toBe(404);
    await eventually(async () => (await rest("GET", "/health")).json.connected_agents === 0, 5000, "agents gone");
    const builder = (await rest("GET", "/agents")).json.agents.find((a: any) => a.hostname === "builder-01");
    expect((await rest("POST", "/deploy", { project_name: "x", compose_file_base64: "c2VydmljZXM6IHt9", agent_id: builder.id })).status).toBe(503);
    expect((await rest("POST", "/deploy", { project_name: "x", compose_file_base64: "c2VydmljZXM6IHt9" })).status).toBe(503);
  });

  it("launches seed 003's services on seed 003's agent: hello, heartbeat, launch", async () => {
    const agent = connect(`${server.url.replace("http", "ws")}/ws?token=${JOIN}`);
    await agent.open;
    agent.ws.send(JSON.stringify({ type: "hello", payload: { nodeId: "orion-node-1", name: "orion-1", address: "10.9.0.1", labels: { os: "linux", arch: "x64" } } }));
    agent.ws.send(JSON.stringify({ type: "heartbeat", payload: { timestamp: Date.now(), metrics: { cpu: 12.5, memory: 40 } } }));
    await eventually(async () => (await rest("GET", "/api/nodes")).json.items.find((n: any) => n.id === "orion-node-1"), 5000, "node listed");
    const applied = await rest("POST", "/api/apply", {
      apiVersion: "orion/v1",
      kind: "Config",
      metadata: { name: "demo", environment: "dev" },
      spec: { services: [{ name: "api", path: ".", type: "node", entry: "index.ts", runtime: "node", replicas: 1, ports: [{ name: "http", port: 3000, protocol: "tcp" }], env: { NODE_ENV: "production" } }], nodes: [], plugins: [] },
    });
    expect(applied.status).toBe(202);
    expect(applied.json.status).toBe("accepted");
    const launch = await eventually(() => agent.received.find((m) => m.type === "launch"), 5000, "launch received");
    expect(launch.payload.replicaId).toMatch(/^api-/);
    expect(launch.payload.service).toMatchObject({ name: "api", entry: "index.ts", runtime: "node", env: { NODE_ENV: "production" } });
    const api = await eventually(async () => (await rest("GET", "/api/services")).json.items.find((s: any) => s.name === "api" && s.status === "running"), 5000, "service running");
    expect(api).toMatchObject({ name: "api", replicas: 1, status: "running" });
    expect(api.createdAt).toMatch(/^\d{4}-/);
    agent.ws.close();
  });

  it("sends hooks inside seed 003's launch, and runs no task on its agent (it cannot report an exit): RunTask is refused, a scheduled time skipped", async () => {
    const agent = connect(`${server.url.replace("http", "ws")}/ws?token=${JOIN}`);
    await agent.open;
    agent.ws.send(JSON.stringify({ type: "hello", payload: { nodeId: "orion-node-2", name: "orion-2", address: "10.9.0.2", labels: { os: "linux", arch: "x64" } } }));
    await eventually(async () => (await rest("GET", "/api/nodes")).json.items.find((n: any) => n.id === "orion-node-2" && n.status === "ready"), 5000, "node ready");
    const applied = await rest("POST", "/api/apply", {
      apiVersion: "orion/v1",
      kind: "Config",
      metadata: { name: "hooks", environment: "dev" },
      spec: {
        services: [
          { name: "hooked", command: "node server.js", hooks: { beforeStart: "npm run migrate" } },
          { name: "cron", command: "node job.js", schedule: "* * * * * *" },
        ],
      },
    });
    expect(applied.status).toBe(202);
    const launch = await eventually(() => agent.received.find((m) => m.type === "launch" && m.payload.service.name === "hooked"), 5000, "launch received");
    expect(launch.payload.service.hooks).toEqual({ beforeStart: "npm run migrate" });
    const skipped = await eventually(async () => (await rest("GET", "/api/services/cron/tasks")).json.tasks?.find((t: any) => t.status === "skipped"), 10_000, "a skipped time");
    expect(skipped.error).toContain('tasks run only on agents tagged "task"');
    expect(agent.received.some((m) => m.type === "launch" && m.payload.service.name === "cron")).toBe(false);
    const run = await rest("POST", "/api/v1/tasks", { service_name: "hooked" });
    expect(run.status).toBe(412);
    expect(JSON.stringify(run.json)).toContain('tasks run only on agents tagged');
    await rest("DELETE", "/api/services/cron");
    await rest("DELETE", "/api/services/hooked");
    agent.ws.close();
  });

  it("autoscales a service on seed 003's agent by its node's CPU (all its heartbeats carry), and says so", async () => {
    const agent = connect(`${server.url.replace("http", "ws")}/ws?token=${JOIN}`);
    await agent.open;
    agent.ws.send(JSON.stringify({ type: "hello", payload: { nodeId: "orion-node-9", name: "orion-9", address: "10.9.0.9", labels: { role: "busy" } } }));
    await eventually(async () => (await rest("GET", "/api/nodes")).json.items.find((n: any) => n.id === "orion-node-9"), 5000, "node listed");
    // Its heartbeats (every ~5 s in Orion) carry the node's CPU only.
    const beat = () => agent.ws.send(JSON.stringify({ type: "heartbeat", payload: { timestamp: Date.now(), metrics: { cpu: 95, memory: 40 } } }));
    beat();
    const beating = setInterval(beat, 500);
    try {
      const autoscaling = { enabled: true, minReplicas: 1, maxReplicas: 2, scaleUpThreshold: 80, scaleDownThreshold: 20, scaleDownDelaySeconds: 60 };
      const applied = await rest("POST", "/api/apply", {
        apiVersion: "orion/v1",
        kind: "Config",
        metadata: { name: "busy" },
        spec: { services: [{ name: "busy", command: "node busy.js", replicas: 1, autoscaling, placement: { labels: { role: "busy" } } }] },
      });
      expect(applied.status).toBe(202);
      const scaled = await eventually(async () => {
        const s = (await rest("GET", "/api/services/busy")).json.service;
        return s?.lastScale ? s : undefined;
      }, 10_000, "busy scaled up");
      expect(scaled.lastScale).toMatchObject({ fromReplicas: 1, toReplicas: 2, metric: 95, threshold: 80, source: "node" });
      expect(scaled.lastScale.reason).toBe("cpu 95.0% (node CPU: the agent reports no per-replica CPU) above scaleUpThreshold 80%: 1 → 2");
      await eventually(() => agent.received.filter((m) => m.type === "launch" && m.payload.service?.name === "busy").length === 2, 5000, "second launch received");
    } finally {
      clearInterval(beating);
    }
    await rest("DELETE", "/api/services/busy");
    agent.ws.close();
  });

  it("answers seed 003's invalid config with 400, a message and the list of issues", async () => {
    const r = await rest("POST", "/api/apply", { apiVersion: "orion/v1", kind: "Config", metadata: { name: "bad" }, spec: { services: [{ name: "Bad Name", replicas: -1 }] } });
    expect(r.status).toBe(400);
    expect(r.json.message).toBe("Invalid configuration");
    expect(r.json.issues.map((i: any) => i.path)).toEqual(["spec.services[0].name", "spec.services[0].replicas"]);
  });

  it("refuses an Orion document with replicas: 0, as Orion does, naming the service's field", async () => {
    const doc = (replicas?: number) => ({ apiVersion: "orion/v1", kind: "Config", metadata: { name: "zero" }, spec: { services: [{ name: "zero-ok", command: "true" }, { name: "zero", command: "true", ...(replicas === undefined ? {} : { replicas }) }] } });
    const r = await rest("POST", "/api/apply", { ...doc(0), dryRun: true });
    expect(r.status).toBe(400);
    expect(r.json.message).toBe("Invalid configuration");
    expect(r.json.issues).toEqual([{ path: "spec.services[1].replicas", message: "must be at least 1 (leave it out for 1)" }]);
    // Left out, it is 1.
    const planned = await rest("POST", "/api/apply", { ...doc(), dryRun: true });
    expect(planned.status).toBe(202);
  });
});
