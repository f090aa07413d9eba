import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const JOIN = "join-secret-0123456789abcdef";
const DB_PASSWORD = "s3cr3t-db-password-value";

const code = (p: Promise<unknown>) => p.then(() => "ok", (err: unknown) => Code[ConnectError.from(err).code]);

describe("operator tokens, scopes and node tokens (no dev mode)", () => {
  let server: TestServer;
  const secrets: string[] = [ADMIN, JOIN, DB_PASSWORD];
  const as = (token: string) => server.withToken(token).grpc;
  let reader = "";
  let writer = "";

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-sec-"));
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN });
    const tokens = createClient(TokenService, as(ADMIN));
    reader = (await tokens.createToken({ name: "reader", scope: TokenScope.READ })).secret;
    writer = (await tokens.createToken({ name: "writer", scope: TokenScope.WRITE })).secret;
    secrets.push(reader, writer);
  });
  afterAll(() => server?.stop());

  it("answers health, info, docs and gRPC health without a token, and nothing else", async () => {
    for (const path of ["/health", "/", "/docs", "/openapi.json"]) expect((await httpRequest(server.url + path)).status).toBe(200);
    expect((await createClient(Health, server.grpc).check({})).status).toBe(1);
    const rest = await httpRequest(`${server.url}/api/v1/nodes`);
    expect(rest.status).toBe(401);
    expect(rest.json).toMatchObject({ code: "unauthenticated" });
    expect(await code(createClient(NodeService, server.grpc).listNodes({}))).toBe("Unauthenticated");
    expect(await code(createClient(NodeService, server.connect).listNodes({}))).toBe("Unauthenticated");
    expect(await code(createClient(NodeService, server.grpcWeb).listNodes({}))).toBe("Unauthenticated");
    expect(await code(createClient(NodeService, as("cap_made-up-token")).listNodes({}))).toBe("Unauthenticated");
  });

  it("enforces read < write < admin on gRPC and on the REST paths", async () => {
    const apply = { apiVersion: "orion/v1", kind: "Config", metadata: { name: "demo", environment: "test" }, spec: { services: [{ name: "web", command: "sleep 60" }] } };
    expect(await code(createClient(NodeService, as(reader)).listNodes({}))).toBe("ok");
    expect(await code(createClient(DeploymentService, as(reader)).createDeployment({ deploymentId: "d1", renderedCompose: "services: {}\n" }))).toBe("PermissionDenied");
    expect((await httpRequest(`${server.url}/api/apply`, { body: apply, headers: { authorization: `Bearer ${reader}` } })).status).toBe(403);
    expect((await httpRequest(`${server.url}/api/apply`, { body: apply, headers: { authorization: `Bearer ${writer}` } })).status).toBe(202);
    const writerNodes = createClient(NodeService, as(writer));
    const { nodeId } = await writerNodes.registerNode({ name: "w-node", capabilities: { docker: { available: true, version: "24.0.0" } } });
    expect(await code(writerNodes.drainNode({ nodeId }))).toBe("PermissionDenied");
    expect(await code(createClient(TokenService, as(writer)).createToken({ name: "escalate", scope: TokenScope.ADMIN }))).toBe("PermissionDenied");
    expect((await httpRequest(`${server.url}/api/v1/nodes/${nodeId}`, { method: "DELETE", headers: { authorization: `Bearer ${writer}` } })).status).toBe(403);
    expect(await code(createClient(NodeService, as(ADMIN)).drainNode({ nodeId }))).toBe("ok");
    const me = await createClient(TokenService, as(writer)).whoAmI({});
    expect(me).toMatchObject({ kind: "operator", name: "writer", scopes: ["write"] });
  });

  it("lists tokens without their secrets", async () => {
    const res = await httpRequest(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.json.tokens.map((t: { name: string; scope: string }) => `${t.name}:${t.scope}`)).toEqual(expect.arrayContaining(["bootstrap:admin", "reader:read", "writer:write"]));
    for (const s of secrets) expect(res.text).not.toContain(s);
    expect(res.text).not.toMatch(/[0-9a-f]{64}/);
  });

  it("ends an open stream when its token is revoked, and refuses the token from then on", async () => {
    const tokens = createClient(TokenService, as(ADMIN));
    const watcher = await tokens.createToken({ name: "watcher", scope: TokenScope.READ });
    secrets.push(watcher.secret);
    const { nodeId } = await createClient(NodeService, as(writer)).registerNode({ name: "watched", capabilities: { docker: { available: true, version: "24.0.0" } } });
    const { jobId } = await createClient(DeploymentService, as(writer)).createDeployment({ deploymentId: "watched-app", renderedCompose: "services:\n  a:\n    image: busybox\n", nodeId, env: { DB_PASSWORD } });
    const seen: number[] = [];
    const stream = (async () => {
      for await (const ev of createClient(DeploymentService, as(watcher.secret)).watchJob({ jobId })) {
        seen.push(ev.job?.status ?? -1);
        if (seen.length === 1) await tokens.revokeToken({ tokenId: watcher.token!.id });
      }
    })();
    expect(await code(stream)).toBe("Unauthenticated");
    expect(seen.length).toBe(1);
    expect(await code(createClient(NodeService, as(watcher.secret)).listNodes({}))).toBe("Unauthenticated");
    const listed = await tokens.listTokens({ includeInactive: true });
    expect(listed.tokens.find((t) => t.name === "watcher")?.revokeTime).toBeDefined();
    expect((await tokens.listTokens({})).tokens.some((t) => t.name === "watcher")).toBe(false);
  });

  it("lets a node token act only as its own node, and the join token only register", async () => {
    const register = (name: string) => createClient(NodeService, as(JOIN)).registerNode({ name });
    const a = await register("node-a");
    const b = await register("node-b");
    secrets.push(a.nodeToken, b.nodeToken);
    const asA = as(a.nodeToken);
    expect(await code(createClient(NodeService, asA).heartbeat({ nodeId: a.nodeId, cpuUsage: 1 }))).toBe("ok");
    expect(await code(createClient(NodeService, asA).heartbeat({ nodeId: b.nodeId }))).toBe("PermissionDenied");
    expect(await code(createClient(ChunkIndexService, asA).reportChunks({ nodeId: b.nodeId, chunkIds: ["c1"] }))).toBe("PermissionDenied");
    expect(await code(createClient(ChunkIndexService, asA).getChunkLocations({ chunkIds: ["c1"] }))).toBe("ok");
    expect(await code(createClient(DeploymentService, asA).listDeployments({}))).toBe("PermissionDenied");
    expect(await code(createClient(NodeService, asA).registerNode({ nodeId: b.nodeId, name: "node-b" }))).toBe("PermissionDenied");
    expect(await code(createClient(NodeService, as(JOIN)).listNodes({}))).toBe("PermissionDenied");
    const rest = await httpRequest(`${server.url}/api/v1/nodes/${b.nodeId}/heartbeat`, { method: "PUT", body: { node_id: b.nodeId }, headers: { authorization: `Bearer ${a.nodeToken}` } });
    expect(rest.status).toBe(403);
    // Without a token, an existing token node cannot be taken over by re-registering it.
    expect(await code(createClient(NodeService, server.grpc).registerNode({ nodeId: a.nodeId, name: "node-a" }))).toBe("Unauthenticated");
  });

  it("ends a node's live agent stream when the node, and with it its token, is deleted", async () => {
    const q = new AsyncQueue<AgentStreamRequest>();
    q.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: "doomed", joinToken: JOIN } } }));
    const kinds: string[] = [];
    const stream = (async () => {
      for await (const m of createClient(AgentService, server.grpc).agentStream(q)) {
        kinds.push(m.message.case ?? "");
        if (m.message.case === "welcome") {
          secrets.push(m.message.value.nodeToken);
          await createClient(NodeService, as(ADMIN)).deleteNode({ nodeId: m.message.value.nodeId });
        }
      }
    })();
    expect(await code(stream)).toBe("ok");
    expect(kinds[0]).toBe("welcome");
    q.end();
  });

  it("keeps an audit trail of mutating calls, refused ones included, for admins only", async () => {
    const events = (await createClient(AuditService, as(ADMIN)).listAuditEvents({ pageSize: 1000 })).events;
    const has = (rpc: string, actor: string, outcome: string) => events.some((e) => e.rpc.endsWith(rpc) && e.actor === actor && e.outcome === outcome);
    expect(has("TokenService/CreateToken", "operator:bootstrap", "ok")).toBe(true);
    expect(has("DeploymentService/CreateDeployment", "operator:reader", "permission_denied")).toBe(true);
    expect(has("DeploymentService/Apply", "operator:writer", "ok")).toBe(true);
    expect(has("NodeService/DrainNode", "operator:writer", "permission_denied")).toBe(true);
    expect(has("NodeService/RegisterNode", "join", "ok")).toBe(true);
    expect(has("TokenService/RevokeToken", "operator:bootstrap", "ok")).toBe(true);
    expect(events.every((e) => e.peer !== "" && e.time !== undefined)).toBe(true);
    expect(events.some((e) => e.rpc.endsWith("NodeService/Heartbeat"))).toBe(false);
    const page = await createClient(AuditService, as(ADMIN)).listAuditEvents({ pageSize: 2 });
    const next = await createClient(AuditService, as(ADMIN)).listAuditEvents({ pageSize: 2, pageToken: page.nextPageToken });
    expect(next.events[0].id < page.events[1].id).toBe(true);
    expect((await httpRequest(`${server.url}/api/v1/audit?actor=operator:reader`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.events.length).toBeGreaterThan(0);
    expect((await httpRequest(`${server.url}/api/v1/audit`, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(403);
  });

  it("never writes a secret to the logs: tokens, join token, node tokens, deployment env", async () => {
    await server.app.db.prisma.$queryRawUnsafe("SELECT 1");
    const logs = server.logs.join("\n");
    expect(logs.length).toBeGreaterThan(1000);
    for (const s of secrets) expect(logs).not.toContain(s);
    expect(server.announcements).toEqual([]);
  });
});

describe("bootstrap admin token", () => {
  it("is created and shown once on first start, outside the logs, and works as admin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-boot-"));
    const env = { DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0" };
    const first = await startTestServer(env);
    const line = first.announcements.join("\n");
    const secret = /cap_[A-Za-z0-9_-]+/.exec(line)?.[0] ?? "";
    expect(secret).not.toBe("");
    expect(await createClient(TokenService, first.withToken(secret).grpc).whoAmI({})).toMatchObject({ kind: "operator", name: "bootstrap", scopes: ["admin"] });
    expect(first.logs.join("\n")).not.toContain(secret);
    await first.stop();
    const second = await startTestServer(env);
    expect(second.announcements).toEqual([]);
    expect(await code(createClient(NodeService, second.withToken(secret).grpc).listNodes({}))).toBe("ok");
    await second.stop();
  });
});
