import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { NodeStatus } from "../../gen/proto/capstan/v1/node_pb.js";
import { decodeMetadata } from "../../src/rpc/error-mapping.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { startRouterApp, type RouterApp } from "../support/router-app.js";

/** The error a call failed with; fails the test when the call succeeds. */
async function failure(call: Promise<unknown>): Promise<{ code: Code; field: string | undefined; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, field: decodeMetadata(e.metadata.get("capstan-field")), message: e.rawMessage };
  }
  throw new Error("the call succeeded");
}

describe("NodeService through a router transport", () => {
  let r: RouterApp;
  let nodes: Client<typeof NodeService>;

  beforeEach(async () => {
    r = await startRouterApp();
    nodes = createClient(NodeService, r.transport);
  });
  afterEach(async () => {
    await r.stop();
  });

  it("registers a node, stores it, and hands back its token and the URL the caller reached", async () => {
    const res = await nodes.registerNode(
      { name: "worker-01", address: "10.0.0.1", labels: { zone: "a" }, tags: ["docker"], capabilities: { cpuCount: 4, memMb: 8192 } },
      { headers: { "x-forwarded-proto": "https", "x-forwarded-host": "cp.example:8443" } },
    );
    expect(res.nodeId).not.toBe("");
    expect(res.nodeToken).toMatch(/^cpn_/);
    expect(res.controlPlaneUrl).toBe("https://cp.example:8443");
    expect(res.node?.name).toBe("worker-01");
    expect(r.app.db.nodes.rows.get(res.nodeId)?.address).toBe("10.0.0.1");
  });

  it("answers with the configured public URL rather than the caller's host", async () => {
    await r.stop();
    r = await startRouterApp({ PUBLIC_URL: "https://capstan.example" });
    const res = await createClient(NodeService, r.transport).registerNode({ name: "worker-01" }, { headers: { "x-forwarded-host": "elsewhere:1" } });
    expect(res.controlPlaneUrl).toBe("https://capstan.example");
  });

  it.each([
    { why: "a malformed address", req: { name: "w", address: "not an address!" }, field: "address" },
    { why: "a label key with a space", req: { name: "w", labels: { "bad key": "x" } }, field: "labels.bad key" },
    { why: "an empty tag", req: { name: "w", tags: ["docker", ""] }, field: "tags[1]" },
    { why: "a node id with a slash", req: { nodeId: "a/b", name: "w" }, field: "node_id" },
    { why: "no name and no id", req: {}, field: "name" },
  ])("refuses a registration with $why, naming $field", async ({ req, field }) => {
    const f = await failure(nodes.registerNode(req));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.field).toBe(field);
    expect(f.message.startsWith(`${field}: `)).toBe(true);
    expect(r.app.db.nodes.rows.size).toBe(0);
  });

  it("returns a registered node, connected only while its agent is attached", async () => {
    const { nodeId } = await nodes.registerNode({ name: "worker-01" });
    expect((await nodes.getNode({ nodeId })).node?.connected).toBe(false);
    r.app.sessions.attach(new RecordingSession(nodeId));
    expect((await nodes.getNode({ nodeId })).node?.connected).toBe(true);
  });

  it("answers NotFound for a node it does not know, naming the id", async () => {
    const f = await failure(nodes.getNode({ nodeId: "ghost" }));
    expect(f.code).toBe(Code.NotFound);
    expect(f.message).toContain('"ghost"');
  });

  it("lists nodes by label selector, in pages that follow each other", async () => {
    for (const [name, zone] of [["a1", "a"], ["a2", "a"], ["b1", "b"], ["a3", "a"]]) await nodes.registerNode({ name, labels: { zone } });
    const first = await nodes.listNodes({ labelSelector: "zone=a", pageSize: 2 });
    expect(first.count).toBe(3);
    expect(first.nodes).toHaveLength(2);
    const second = await nodes.listNodes({ labelSelector: "zone=a", pageSize: 2, pageToken: first.nextPageToken });
    expect(second.nextPageToken).toBe("");
    expect([...first.nodes, ...second.nodes].map((n) => n.name).sort()).toEqual(["a1", "a2", "a3"]);
  });

  it.each([
    { why: "a label selector that is not key=value", req: { labelSelector: "zone" }, field: "label_selector" },
    { why: "a negative page size", req: { pageSize: -1 }, field: "page_size" },
    { why: "a page token that decodes to nothing", req: { pageToken: "***" }, field: "page_token" },
    { why: "a status outside the enum", req: { status: 99 as NodeStatus }, field: "status" },
  ])("refuses a listing with $why, naming $field", async ({ req, field }) => {
    const f = await failure(nodes.listNodes(req));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.field).toBe(field);
  });

  it("refuses callers without credentials before any handler runs, and records the failures: the first in full, the rest summed", async () => {
    const { nodeId } = await nodes.registerNode({ name: "worker-01" });
    const anonymous = createClient(NodeService, r.bare);
    expect((await failure(anonymous.getNode({ nodeId }))).code).toBe(Code.Unauthenticated);
    expect((await failure(anonymous.deleteNode({ nodeId }))).code).toBe(Code.Unauthenticated);
    expect(r.app.db.nodes.rows.has(nodeId)).toBe(true);
    await r.stop(); // flushes the failure sums and the audit trail
    const refused = r.app.db.audit.events.filter((e) => e.outcome === "unauthenticated");
    expect(refused.map((e) => [e.rpc, e.target, e.message.replace(/^(\d+ more).*/, "$1")])).toEqual([
      ["capstan.v1.NodeService/GetNode", nodeId, expect.stringContaining("token")],
      ["(failed authentication)", "", "1 more"],
    ]);
  });
});
