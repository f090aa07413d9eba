import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
// 127.0.0.2 is loopback too, but the server sees a different address: "another machine" on one host.
const ALLOWED = "127.0.0.2";
const db = () => `file:${join(mkdtempSync(join(tmpdir(), "capstan-anon-")), "c.db")}`;

describe("dev mode", () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ DATABASE_URL: db(), CAPSTAN_DEV: "1" })));
  afterAll(() => server?.stop());

  it("lets token-less callers on loopback do anything, and says so", async () => {
    expect(await createClient(TokenService, server.grpc).whoAmI({})).toMatchObject({ kind: "dev", scopes: ["admin"] });
    expect((await httpRequest(`${server.url}/api/v1/tokens`)).status).toBe(200);
    expect(server.logs.some((l) => l.includes("CAPSTAN_DEV=1"))).toBe(true);
  });

  it("still refuses a wrong token instead of treating it as no token", async () => {
    expect((await httpRequest(`${server.url}/api/v1/nodes`, { headers: { authorization: "Bearer cap_wrong" } })).status).toBe(401);
  });
});

describe("anonymous grants for clients that cannot send a token (seed 004's cache nodes)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: db(),
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      CAPSTAN_ANONYMOUS_SCOPES: "read,node",
      CAPSTAN_ANONYMOUS_NETWORKS: `${ALLOWED}/32`,
    });
  });
  afterAll(() => server?.stop());
  const from = (path: string, options: Parameters<typeof httpRequest>[1] = {}) => httpRequest(server.url + path, { ...options, localAddress: ALLOWED });

  it("serves ElioP2P's whole token-less flow from an allowed network", async () => {
    expect((await from("/health")).status).toBe(200);
    const reg = await from("/api/v1/nodes", { body: { node_id: "elio-1", address: "127.0.0.2", p2p_port: 9000, http_port: 8080, memory_capacity_mb: 1024, disk_capacity_mb: 4096, available_chunks: [] } });
    expect(reg.status).toBe(201);
    expect((await from("/api/v1/nodes/elio-1/heartbeat", { method: "PUT", body: { node_id: "elio-1", online: true, memory_used_mb: 10, disk_used_mb: 20, cache_hit_rate: 0.5, total_chunks: 1, active_connections: 0, upload_speed_mbps: 0, download_speed_mbps: 0, timestamp: Date.now() } })).status).toBe(200);
    expect((await from("/api/v1/nodes/elio-1/chunks", { method: "PUT", body: { chunk_ids: ["c-1", "c-2"] } })).status).toBe(200);
    const loc = await from("/api/v1/chunks/locations", { body: { chunk_ids: ["c-1", "unknown"] } });
    expect(loc.status).toBe(200);
    expect(loc.json.locations[0]).toMatchObject({ chunk_id: "c-1", peer_ids: ["elio-1"] });
    expect((await from("/api/v1/nodes")).json.nodes.map((n: { node_id: string }) => n.node_id)).toContain("elio-1");
    expect((await from("/api/v1/metrics")).status).toBe(200);
    expect((await from("/api/v1/nodes/elio-1/commands")).status).toBe(200);
    // The node is anonymous: it may keep going without a token, as its client does.
    expect((await createClient(NodeService, server.withToken(ADMIN).grpc).getNode({ nodeId: "elio-1" })).node?.id).toBe("elio-1");
  });

  it("grants only the scopes configured: no writes, no admin", async () => {
    expect((await from("/api/v1/deployments", { body: { deployment_id: "x", rendered_compose: "services: {}\n" } })).status).toBe(401);
    expect((await from("/api/v1/tokens")).status).toBe(401);
  });

  it("does not let token-less callers act for a node that holds a token, nor take it over", async () => {
    const { nodeId } = await createClient(NodeService, server.withToken(ADMIN).grpc).registerNode({ nodeId: "agent-1", name: "agent-1" });
    expect((await from(`/api/v1/nodes/${nodeId}/heartbeat`, { method: "PUT", body: { node_id: nodeId } })).status).toBe(401);
    expect((await from(`/api/v1/nodes/${nodeId}/chunks`, { method: "PUT", body: { chunk_ids: ["stolen"] } })).status).toBe(401);
    expect((await from("/api/v1/nodes", { body: { node_id: nodeId, address: "evil" } })).status).toBe(401);
  });

  it("refuses token-less callers from other addresses, even with a forged peer header", async () => {
    expect((await httpRequest(`${server.url}/api/v1/nodes`)).status).toBe(401);
    const forged = { "x-capstan-gateway-peer": JSON.stringify({ address: ALLOWED }) };
    expect((await httpRequest(`${server.url}/api/v1/nodes`, { headers: forged })).status).toBe(401);
    const rpc = await httpRequest(`${server.url}/capstan.v1.NodeService/ListNodes`, { body: {}, headers: forged });
    expect(rpc.status).toBe(401);
    expect(rpc.json.code).toBe("unauthenticated");
  });
});

describe("open registration (no CAPSTAN_JOIN_TOKEN)", () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ DATABASE_URL: db(), CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN })));
  afterAll(() => server?.stop());

  /** One hello on a new agent stream: "welcome:<node id>:<token>" or the error code. */
  async function hello(value: Record<string, string>): Promise<string> {
    const q = new AsyncQueue<AgentStreamRequest>();
    q.push(create(AgentStreamRequestSchema, { message: { case: "hello", value } }));
    try {
      for await (const m of createClient(AgentService, server.grpc).agentStream(q)) {
        q.end();
        return m.message.case === "welcome" ? `welcome:${m.message.value.nodeId}:${m.message.value.nodeToken}` : String(m.message.case);
      }
      return "ended";
    } catch (err) {
      return Code[ConnectError.from(err).code];
    }
  }

  it("lets a new agent register without a token, but nobody take its node over by naming it", async () => {
    const [, nodeId, token] = (await hello({ name: "open-1" })).split(":");
    expect(token).toMatch(/^cpn_/);
    expect(await hello({ nodeId })).toBe("Unauthenticated");
    expect(await hello({ name: "open-1" })).toBe("Unauthenticated");
    expect(await createClient(NodeService, server.grpc).registerNode({ nodeId, name: "open-1" }).then(() => "ok", (e: unknown) => Code[ConnectError.from(e).code])).toBe("Unauthenticated");
    expect(await hello({ nodeId, nodeToken: token })).toBe(`welcome:${nodeId}:`);
  });
});
