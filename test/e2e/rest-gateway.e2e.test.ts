import { Validator } from "@seriousme/openapi-schema-validator";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICES } from "../../src/app/app.js";
import { readBindings } from "../../src/gateway/http-rules.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let server: TestServer;
const dir = mkdtempSync(join(tmpdir(), "capstan-rest-"));

beforeAll(async () => {
  server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CORS_ORIGINS: "https://ui.example" });
});
afterAll(async () => server?.stop());

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

describe("REST gateway: seed paths with the seeds' own example bodies", () => {
  it("GET /health answers healthy with version, uptime, database and agent count", async () => {
    const r = await call("GET", "/health");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: "healthy", version: expect.any(String), database: "ok", connected_agents: 0 });
    expect(typeof r.json.uptime_seconds).toBe("number");
  });

  it("GET / answers service, version and status (seed 002)", async () => {
    const r = await call("GET", "/");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ service: "capstan", status: "running", links: { docs: "/docs" } });
  });

  it("POST /api/v1/nodes/register takes seed 000's body and answers 201 with message and node", async () => {
    const r = await call("POST", "/api/v1/nodes/register", { id: "node-123", hostname: "worker-01", capabilities: ["docker", "compose"], status: "active" });
    expect(r.status).toBe(201);
    expect(r.json.message).toBe("Node registered successfully");
    expect(r.json.node).toMatchObject({ id: "node-123", hostname: "worker-01", tags: ["docker", "compose"], status: "online" });
    expect(r.json.node.last_heartbeat).toMatch(/^\d{4}-/);
  });

  it("POST /api/v1/nodes/register takes seed 001's body and answers node_id, node_token, control_plane_url", async () => {
    const r = await call("POST", "/api/v1/nodes/register", {
      name: "worker-01b",
      ip: "192.168.1.10",
      capabilities: { os: "linux", cpu_count: 8, mem_mb: 16000, disk_mb: 500000, gpus: [{ id: 0, model: "RTX 3090", mem_mb: 24000 }], docker: { version: "24.0.0", available: true } },
    });
    expect(r.status).toBe(201);
    expect(r.json.node_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json.node_token).toMatch(/^cpn_/);
    expect(r.json.control_plane_url).toBe(server.url);
    expect(r.json.node).toMatchObject({ name: "worker-01b", ip: "192.168.1.10", capabilities: { os: "linux", cpu_count: 8, gpus: [{ model: "RTX 3090" }] } });
  });

  it("POST /api/v1/nodes takes seed 004's node and GET /api/v1/nodes shows it in seed 004's shape", async () => {
    const reg = await call("POST", "/api/v1/nodes", {
      node_id: "elio-1", address: "10.1.0.5", p2p_port: 7000, http_port: 8000, memory_capacity_mb: 4096, disk_capacity_mb: 100000, available_chunks: [],
    });
    expect([200, 201]).toContain(reg.status);
    const list = await call("GET", "/api/v1/nodes");
    expect(list.status).toBe(200);
    const elio = list.json.nodes.find((n: any) => n.node_id === "elio-1");
    expect(elio).toMatchObject({ node_id: "elio-1", address: "10.1.0.5", p2p_port: 7000, http_port: 8000, memory_capacity_mb: 4096, disk_capacity_mb: 100000 });
    expect(list.json.count).toBe(list.json.nodes.length);
  });

  it("GET /api/v1/nodes/{node_id} returns the node, 404 with a JSON error when unknown", async () => {
    expect((await call("GET", "/api/v1/nodes/node-123")).json.node.id).toBe("node-123");
    const missing = await call("GET", "/api/v1/nodes/nope");
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: "not_found", message: 'node "nope" not found' });
  });

  it("POST /api/v1/nodes/{id}/heartbeat takes seed 001's metrics and answers {status: ok, timestamp}", async () => {
    const r = await call("POST", "/api/v1/nodes/node-123/heartbeat", { cpu_usage: 45.5, mem_usage: 60.2, disk_free_mb: 450000, running_containers: ["postgres", "redis"] });
    expect(r.status).toBe(200);
    expect(r.json.status).toBe("ok");
    expect(Math.abs(r.json.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect((await call("GET", "/api/v1/nodes/node-123")).json.node.metrics.running_containers).toEqual(["postgres", "redis"]);
  });

  it("PUT /api/v1/nodes/{id}/heartbeat takes seed 004's body", async () => {
    const r = await call("PUT", "/api/v1/nodes/elio-1/heartbeat", {
      node_id: "elio-1", online: true, memory_used_mb: 512, disk_used_mb: 2048, cache_hit_rate: 0.9, total_chunks: 12, active_connections: 3, upload_speed_mbps: 10.5, download_speed_mbps: 20.25, timestamp: 1767225600000,
    });
    expect(r.status).toBe(200);
    expect((await call("GET", "/api/v1/nodes/elio-1")).json.node.metrics).toMatchObject({ cache_hit_rate: 0.9, total_chunks: 12 });
  });

  it("GET /api/nodes answers seed 003's {items} with camelCase fields", async () => {
    const r = await call("GET", "/api/nodes");
    expect(r.status).toBe(200);
    const item = r.json.items.find((n: any) => n.id === "node-123");
    expect(item).toMatchObject({ name: "worker-01", status: "ready", capacity: { cpu: 0, memory: 0 } });
    expect(item.lastHeartbeat).toMatch(/^\d{4}-/);
  });

  it("GET /agents answers seed 002's {agents, total}", async () => {
    const r = await call("GET", "/agents");
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(r.json.agents.length);
    expect(r.json.agents.find((a: any) => a.id === "node-123")).toMatchObject({ hostname: "worker-01", status: "online" });
  });

  it("filters by status given in the short or the full enum form", async () => {
    for (const status of ["online", "NODE_STATUS_ONLINE", "1"]) {
      const r = await call("GET", `/api/v1/nodes?status=${status}&page_size=500`);
      expect(r.status).toBe(200);
      expect(r.json.nodes.every((n: any) => n.status === "online")).toBe(true);
    }
    expect((await call("GET", "/api/v1/nodes?status=sideways")).status).toBe(400);
  });
});

describe("REST gateway: bad input", () => {
  it("rejects an unknown field with 400 naming it, and stores nothing", async () => {
    const r = await call("POST", "/api/v1/nodes/register", { name: "x", colour: "blue" });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('"colour"');
    expect((await call("GET", "/api/v1/nodes")).json.nodes.some((n: any) => n.name === "x")).toBe(false);
  });

  it("rejects malformed JSON with 400", async () => {
    const r = await call("POST", "/api/v1/nodes/register", "{not json");
    expect(r.status).toBe(400);
    expect(r.json.code).toBe("invalid_argument");
  });

  it("rejects a body over the limit with 413", async () => {
    const r = await call("POST", "/api/v1/nodes/register", { name: "x".repeat(5 << 20) });
    expect(r.status).toBe(413);
  });

  it("names the field of a domain validation error", async () => {
    const r = await call("POST", "/api/v1/nodes/register", { name: "bad", ip: "999.1.1.1" });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: "invalid_argument", field: "address" });
  });

  it("rejects an unknown query parameter", async () => {
    const r = await call("GET", "/api/v1/nodes?colour=blue");
    expect(r.status).toBe(400);
    expect(r.json.message).toContain("colour");
  });
});

describe("REST gateway: CORS, OpenAPI and docs", () => {
  it("names a non-ASCII field at fault, over REST and gRPC, instead of failing internally", async () => {
    const r = await call("POST", "/api/v1/nodes/register", { name: "unicode", labels: { "Ā": "v" } });
    expect(r.status).toBe(400);
    expect(r.json.field).toBe("labels.Ā");
    const grpc = await createClient(NodeService, server.grpc).registerNode({ name: "unicode", labels: { "Ā": "v" } }).catch((e: unknown) => ConnectError.from(e));
    expect(grpc).toMatchObject({ code: Code.InvalidArgument });
    expect((grpc as ConnectError).rawMessage).toContain("labels.Ā");
    expect((await call("GET", "//")).status).toBe(404);
  });

  it("answers a CORS preflight from an allowed origin only", async () => {
    const ok = await fetch(`${server.url}/api/v1/nodes`, { method: "OPTIONS", headers: { origin: "https://ui.example", "access-control-request-method": "GET" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://ui.example");
    const other = await fetch(`${server.url}/api/v1/nodes`, { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("serves an OpenAPI 3.1 document that validates and lists every annotated path", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const b of readBindings(SERVICES)) expect(doc.paths[b.template.openApiPath]?.[b.verb.toLowerCase()]).toBeDefined();
    expect(Object.keys(doc.paths)).toContain("/api/v1/chunks/locations");
  });

  it("serves Swagger UI and ReDoc with their assets from the package, not a CDN", async () => {
    const docs = await fetch(`${server.url}/docs`);
    const html = await docs.text();
    expect(html).toContain("/docs/swagger-ui-bundle.js");
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js", "/redoc", "/redoc/redoc.standalone.js"]) {
      expect((await fetch(`${server.url}${asset}`)).status).toBe(200);
    }
  });
});
