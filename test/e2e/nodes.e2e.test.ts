import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeEligibility, NodeStatus } from "../../gen/proto/capstan/v1/node_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/proto/health/v1/health_pb.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const TTL = "400ms";

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}

describe.each(providers())("NodeService end to end on %s", (provider) => {
  let db: TestDatabase;
  let server: TestServer;
  const env = () => ({ DATABASE_URL: db.url, HEARTBEAT_TTL: TTL, HEARTBEAT_FLUSH_INTERVAL: "200ms", HEARTBEAT_HISTORY_STEP: "1ms" });

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    server = await startTestServer(env());
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it("registers over gRPC (h2c), lists over Connect JSON (HTTP/1.1) and reads over gRPC-Web", async () => {
    const grpc = createClient(NodeService, server.grpc);
    const res = await grpc.registerNode({ nodeId: "node-123", name: "worker-01", address: "192.168.1.10", labels: { zone: "a" }, tags: ["docker"] });
    expect(res.nodeId).toBe("node-123");
    expect(res.nodeToken).toMatch(/^cpn_/);
    expect(res.controlPlaneUrl).toBe(server.url);
    expect(res.node?.status).toBe(NodeStatus.ONLINE);

    const listed = await createClient(NodeService, server.connect).listNodes({});
    expect(listed.nodes.map((n) => n.id)).toContain("node-123");
    expect(listed.count).toBeGreaterThanOrEqual(1);

    const got = await createClient(NodeService, server.grpcWeb).getNode({ nodeId: "node-123" });
    expect(got.node?.labels).toEqual({ zone: "a" });
  });

  it("takes a silent node offline after the TTL and back online with a heartbeat", async () => {
    const client = createClient(NodeService, server.connect);
    await client.registerNode({ nodeId: "ttl-node", name: "ttl-node", address: "10.0.0.2" });
    await until(async () => (await client.getNode({ nodeId: "ttl-node" })).node?.status === NodeStatus.OFFLINE);
    const beat = await client.heartbeat({ nodeId: "ttl-node", cpuUsage: 45.5, memUsage: 60.2, diskFreeMb: 450000, runningContainers: ["postgres"] });
    expect(beat.status).toBe("ok");
    expect(beat.nodeStatus).toBe(NodeStatus.ONLINE);
    const node = (await client.getNode({ nodeId: "ttl-node" })).node;
    expect(node?.status).toBe(NodeStatus.ONLINE);
    expect(node?.metrics?.cpuUsage).toBe(45.5);
    expect(node?.metrics?.runningContainers).toEqual(["postgres"]);
  });

  it.each([
    [{ nodeId: "bad id", name: "x" }, "node_id"],
    [{ name: "" }, "name"],
    [{ name: "x", address: "999.1.1.1" }, "address"],
    [{ name: "x", labels: { "bad key": "v" } }, "labels.bad key"],
    [{ name: "x".repeat(300) }, "name"],
  ])("rejects %j naming %s, and stores nothing", async (req, field) => {
    const client = createClient(NodeService, server.grpc);
    const before = (await client.listNodes({})).count;
    const err = await client.registerNode(req).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage.startsWith(`${field}: `)).toBe(true);
    expect((await client.listNodes({})).count).toBe(before);
  });

  it("keeps each node's recent heartbeat metrics for charts, over REST and gRPC, oldest first", async () => {
    const client = createClient(NodeService, server.grpc);
    await client.registerNode({ nodeId: "chart-node", name: "chart-node", address: "10.0.0.7" });
    for (const cpu of [10, 20, 30]) {
      await client.heartbeat({ nodeId: "chart-node", cpuUsage: cpu, memUsage: cpu + 1, load1: cpu / 10, memoryUsedMb: 100 + cpu, diskFreeMb: 5000, activeConnections: 2 });
      await new Promise((r) => setTimeout(r, 5));
    }
    const res = await fetch(`${server.url}/api/v1/nodes/chart-node/metrics/history`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { samples: Array<Record<string, unknown>> };
    expect(body.samples.map((s) => s.cpu_usage)).toEqual([10, 20, 30]);
    expect(body.samples[2]).toMatchObject({ mem_usage: 31, load1: 3, memory_used_mb: 130, disk_free_mb: 5000, active_connections: 2 });
    expect(typeof body.samples[0].time).toBe("string");
    const since = (await client.getNodeMetricsHistory({ nodeId: "chart-node" })).samples[1].time;
    expect((await client.getNodeMetricsHistory({ nodeId: "chart-node", since })).samples.map((s) => s.cpuUsage)).toEqual([20, 30]);
    expect((await fetch(`${server.url}/api/v1/nodes/nobody/metrics/history`)).status).toBe(404);
  });

  it("answers NotFound for a heartbeat from an unknown node, and InvalidArgument for a negative figure", async () => {
    const client = createClient(NodeService, server.grpc);
    await expect(client.heartbeat({ nodeId: "ghost" })).rejects.toMatchObject({ code: Code.NotFound });
    await client.registerNode({ nodeId: "neg", name: "neg" });
    await expect(client.heartbeat({ nodeId: "neg", cpuUsage: -1 })).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: "cpu_usage: must be a number at or above 0" });
  });

  it("drains and re-enables a node, filters by status and label, and deletes", async () => {
    const client = createClient(NodeService, server.grpc);
    await client.registerNode({ nodeId: "drain-me", name: "drain-me", labels: { pool: "drain" } });
    const drained = await client.drainNode({ nodeId: "drain-me" });
    expect([drained.node?.eligibility, drained.node?.draining]).toEqual([NodeEligibility.INELIGIBLE, true]);
    const back = await client.setNodeEligibility({ nodeId: "drain-me", eligibility: NodeEligibility.ELIGIBLE });
    expect(back.node?.draining).toBe(false);
    expect((await client.listNodes({ labelSelector: "pool=drain" })).nodes.map((n) => n.id)).toEqual(["drain-me"]);
    // The TTL here is short: a heartbeat keeps the node online however long the calls above took
    // (each mutating call waits for its audit event to be stored).
    await client.heartbeat({ nodeId: "drain-me" });
    expect((await client.listNodes({ status: NodeStatus.ONLINE, labelSelector: "pool=drain" })).count).toBe(1);
    await client.deleteNode({ nodeId: "drain-me" });
    await expect(client.getNode({ nodeId: "drain-me" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("serves grpc.health.v1 Check", async () => {
    const health = createClient(Health, server.grpc);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("keeps nodes across a restart, offline when their heartbeat is stale", async () => {
    const client = createClient(NodeService, server.grpc);
    await client.registerNode({ nodeId: "survivor", name: "survivor", labels: { keep: "yes" } });
    await client.heartbeat({ nodeId: "survivor", cpuUsage: 12 });
    await server.stop();
    // Stale beyond the TTL plus one flush interval (the most a restart may have lost of it: docs/operations.md).
    await new Promise((r) => setTimeout(r, 1000));
    server = await startTestServer(env());
    const after = createClient(NodeService, server.grpc);
    const node = (await after.getNode({ nodeId: "survivor" })).node;
    expect(node?.labels).toEqual({ keep: "yes" });
    expect(node?.status).toBe(NodeStatus.OFFLINE);
    expect(node?.metrics?.cpuUsage).toBe(12);
    await after.heartbeat({ nodeId: "survivor" });
    expect((await after.getNode({ nodeId: "survivor" })).node?.status).toBe(NodeStatus.ONLINE);
  });
});
