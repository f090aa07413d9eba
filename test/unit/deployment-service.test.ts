import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { decodeMetadata } from "../../src/rpc/error-mapping.js";
import { startRouterApp, type RouterApp } from "../support/router-app.js";

async function failure(call: Promise<unknown>): Promise<{ code: Code; field: string | undefined; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, field: decodeMetadata(e.metadata.get("capstan-field")), message: e.rawMessage };
  }
  throw new Error("the call succeeded");
}

describe("DeploymentService through a router transport", () => {
  let r: RouterApp;
  let deployments: Client<typeof DeploymentService>;
  let nodes: Client<typeof NodeService>;

  beforeEach(async () => {
    r = await startRouterApp();
    deployments = createClient(DeploymentService, r.transport);
    nodes = createClient(NodeService, r.transport);
  });
  afterEach(async () => {
    await r.stop();
  });

  /** Registers an online node with docker and the given memory. */
  async function node(name: string, memMb: number): Promise<string> {
    const res = await nodes.registerNode({ name, tags: ["docker"], capabilities: { cpuCount: 4, memMb, diskMb: 100_000, docker: { version: "24.0.7" } } });
    return res.nodeId;
  }

  it("explains placement: the node short of memory is rejected with the reason, the other chosen", async () => {
    const small = await node("small", 1024);
    const big = await node("big", 16_384);
    const res = await deployments.explainPlacement({ requirements: { resources: { memoryMb: 4096 } }, count: 1 });
    const byId = new Map(res.nodes.map((v) => [v.nodeId, v]));
    expect(byId.get(small)).toMatchObject({ feasible: false, rejectedBy: "resources" });
    expect(byId.get(small)?.reason).toContain("memory");
    expect(byId.get(big)).toMatchObject({ feasible: true, placed: 1 });
    expect(res.chosenNodeIds).toEqual([big]);
    expect(res.summary).not.toBe("");
  });

  it("explains that nothing can be placed on an empty fleet", async () => {
    const res = await deployments.explainPlacement({ count: 2 });
    expect(res.nodes).toEqual([]);
    expect(res.chosenNodeIds).toEqual([]);
    expect(res.summary).toMatch(/0 of 2/);
  });

  it.each([
    { why: "a count above 10000", req: { count: 10_001 }, field: "count" },
    { why: "a negative count", req: { count: -1 }, field: "count" },
  ])("refuses to explain $why, naming $field", async ({ req, field }) => {
    const f = await failure(deployments.explainPlacement(req));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.field).toBe(field);
  });

  it("answers NotFound when asked to explain a service it does not have", async () => {
    const f = await failure(deployments.explainPlacement({ serviceName: "web" }));
    expect(f.code).toBe(Code.NotFound);
    expect(f.message).toContain("web");
  });

  it("refuses a deployment action other than apply or delete, naming action, and stores nothing", async () => {
    const f = await failure(deployments.createDeployment({ action: "restart", projectName: "shop", renderedCompose: "services: {}" }));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.field).toBe("action");
    expect(r.app.db.deployments.rows.size).toBe(0);
  });

  it("accepts a deployment with no node to run it, stores it and its first revision, and says why it waits", async () => {
    const res = await deployments.createDeployment({ projectName: "shop", renderedCompose: "services:\n  web:\n    image: nginx\n" });
    expect(res.status).toBe("accepted");
    expect(res.jobId).toBe("");
    expect(res.message).toMatch(/waiting for a node/);
    expect(r.app.db.deployments.rows.get(res.deploymentId)?.status).toBe("pending");
    expect((await deployments.listRevisions({ deploymentId: res.deploymentId })).revisions.map((v) => v.revision)).toEqual([res.revision]);
  });

  it("places deployments round robin in turn: three deployments on three equal nodes", async () => {
    const docker = (name: string) => nodes.registerNode({ name, tags: ["docker"], capabilities: { cpuCount: 4, memMb: 8192, diskMb: 100_000, docker: { version: "24.0.7", available: true } } });
    const ids = [(await docker("n1")).nodeId, (await docker("n2")).nodeId, (await docker("n3")).nodeId];
    const placed: string[] = [];
    for (const project of ["shop", "blog", "wiki"]) {
      const res = await deployments.createDeployment({ projectName: project, renderedCompose: "services:\n  web:\n    image: nginx\n" });
      expect(res.message).not.toMatch(/waiting/);
      placed.push((await deployments.getDeployment({ deploymentId: res.deploymentId })).deployment?.nodeId ?? "");
    }
    expect(placed.sort()).toEqual([...ids].sort());
  });
});
