import { createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { httpRequest } from "../support/http.js";
import { startPrometheus, type PrometheusProcess, type Sample } from "../support/prometheus.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const JOIN = "join-secret-0123456789abcdef";
const db = () => `file:${join(mkdtempSync(join(tmpdir(), "capstan-metrics-")), "c.db")}`;
const total = (samples: Sample[]) => samples.reduce((n, s) => n + s.value, 0);

describe("Prometheus scraping /metrics with a read token", () => {
  let server: TestServer;
  let prometheus: PrometheusProcess;
  let reader = "";
  let writer = "";

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: db(), CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN, REPLICA_ID: "cp-test", HEARTBEAT_TTL: "1h" });
    const tokens = createClient(TokenService, server.withToken(ADMIN).grpc);
    reader = (await tokens.createToken({ name: "prometheus", scope: TokenScope.READ })).secret;
    writer = (await tokens.createToken({ name: "writer", scope: TokenScope.WRITE })).secret;
    prometheus = await startPrometheus(`127.0.0.1:${server.app.port}`, reader);
  });
  afterAll(async () => {
    await prometheus?.stop();
    await server?.stop();
  });

  it("scrapes the server: the target is up and its own scrapes are calls of GET /metrics", async () => {
    expect(prometheus.config).toContain("credentials_file:");
    await prometheus.waitFor('up{job="capstan"}', (s) => s.length === 1 && s[0].value === 1);
    const scrapes = await prometheus.waitFor('capstan_calls_total{method="GET /metrics",code="ok"}', (s) => total(s) >= 1);
    expect(scrapes[0].metric).toMatchObject({ replica: "cp-test", job: "capstan" });
  });

  it("counts calls by method and code on every path: gRPC through Connect, the gRPC fast path, REST and WebSocket", async () => {
    const nodes = createClient(NodeService, server.withToken(writer).grpc);
    const { nodeId } = await nodes.registerNode({ name: "metrics-node" });
    await nodes.listNodes({});
    await nodes.listNodes({});
    await createClient(NodeService, server.withToken("cap_not-a-real-token").grpc).listNodes({}).catch(() => {});
    await createClient(ChunkIndexService, server.withToken(reader).grpc).getChunkLocations({ chunkIds: ["c-1"] });
    expect((await httpRequest(`${server.url}/api/v1/nodes/${nodeId}`, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200);
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws?token=${JOIN}`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(JSON.stringify({ type: "hello", payload: { nodeId: "orion-metrics", name: "orion-metrics", address: "10.9.0.1", labels: {} } }));
    // Connected (as Prometheus sees it), then gone: the session's call has ended.
    await prometheus.waitFor('capstan_agents_connected{protocol="ws-orion"}', (s) => total(s) === 1);
    ws.close();

    const expected: Array<[string, string, number]> = [
      ["capstan.v1.NodeService/RegisterNode", "ok", 1],
      ["capstan.v1.NodeService/ListNodes", "ok", 2],
      ["capstan.v1.NodeService/ListNodes", "unauthenticated", 1],
      ["capstan.v1.ChunkIndexService/GetChunkLocations", "ok", 1],
      ["capstan.v1.NodeService/GetNode", "ok", 1],
      ["ws-orion/Session", "ok", 1],
    ];
    for (const [method, code, count] of expected) {
      const s = await prometheus.waitFor(`capstan_calls_total{method="${method}",code="${code}"}`, (r) => total(r) === count);
      expect(s[0].metric.replica).toBe("cp-test");
      const latency = await prometheus.query(`capstan_call_duration_seconds_count{method="${method}",code="${code}"}`);
      expect(total(latency)).toBe(count);
    }
    expect(await prometheus.query('count(capstan_call_duration_seconds_bucket{method="capstan.v1.NodeService/ListNodes",code="ok"})')).toEqual([expect.objectContaining({ value: 17 })]);
  });

  it("reports nodes by status, agents by protocol, store writes, reconcile passes, event loop lag and process metrics", async () => {
    // metrics-node (registered by RegisterNode: a REST agent) and orion-metrics (its hello, now closed), both online.
    await prometheus.waitFor('sum(capstan_nodes{status="online"})', (s) => s.length === 1 && s[0].value === 2);
    const agents = await prometheus.waitFor('capstan_agents_connected{protocol="ws-orion"} == 0', (r) => r.length === 1);
    expect(agents[0].metric.replica).toBe("cp-test");
    const all = await prometheus.query("capstan_agents_connected");
    expect(Object.fromEntries(all.map((s) => [s.metric.protocol, s.value]))).toEqual({ grpc: 0, rest: 1, "ws-instadeploy": 0, "ws-orion": 0 });
    await prometheus.waitFor('capstan_store_write_seconds_count{op=~"nodes.insert|nodes.upsert"}', (s) => total(s) >= 1);
    // CAPSTAN_ADMIN_TOKEN's, added at start, and the two this test made.
    await prometheus.waitFor('capstan_store_write_seconds_count{op="tokens.insert"}', (s) => total(s) === 3);
    await prometheus.waitFor("capstan_reconcile_pass_seconds_count", (s) => total(s) >= 1);
    for (const name of ["nodejs_eventloop_lag_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes", "capstan_chunks", "capstan_chunk_commands_pending", "capstan_replicas_unplaceable", "capstan_jobs"]) {
      const s = await prometheus.waitFor(name, (r) => r.length > 0);
      expect(s.every((x) => x.metric.replica === "cp-test")).toBe(true);
    }
  });
});

describe("who may read /metrics", () => {
  let server: TestServer;
  let reader = "";
  let nodeToken = "";

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: db(), CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN });
    reader = (await createClient(TokenService, server.withToken(ADMIN).grpc).createToken({ name: "reader", scope: TokenScope.READ })).secret;
    nodeToken = (await createClient(NodeService, server.withToken(JOIN).grpc).registerNode({ name: "n1" })).nodeToken;
  });
  afterAll(() => server?.stop());

  it("answers a read token in Prometheus' text format, and refuses callers without one as the REST API does", async () => {
    const ok = await httpRequest(`${server.url}/metrics`, { headers: { authorization: `Bearer ${reader}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.text).toMatch(/^# HELP /m);
    const none = await httpRequest(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ code: "unauthenticated" });
    expect((await httpRequest(`${server.url}/metrics`, { headers: { authorization: `Bearer ${nodeToken}` } })).status).toBe(403);
    expect((await httpRequest(`${server.url}/metrics`, { method: "POST", headers: { authorization: `Bearer ${reader}` } })).status).toBe(405);
  });

  it("leaves /api/v1/metrics as seed 004's cluster figures in JSON", async () => {
    const a = await httpRequest(`${server.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${reader}` } });
    expect(a.status).toBe(200);
    expect(a.json).toHaveProperty("total_nodes");
  });
});

describe("/metrics without a token", () => {
  it("answers token-less callers from the networks granted read (CAPSTAN_ANONYMOUS_SCOPES)", async () => {
    const server = await startTestServer({ DATABASE_URL: db(), CAPSTAN_DEV: "0", CAPSTAN_ANONYMOUS_SCOPES: "read", CAPSTAN_ANONYMOUS_NETWORKS: "127.0.0.0/8" });
    try {
      expect((await httpRequest(`${server.url}/metrics`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it("is not served with METRICS=off", async () => {
    const server = await startTestServer({ DATABASE_URL: db(), METRICS: "off" });
    try {
      expect((await httpRequest(`${server.url}/metrics`)).status).toBe(404);
      expect((await httpRequest(`${server.url}/api/v1/nodes`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
