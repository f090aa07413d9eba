import { Code, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { eventually } from "../support/agent-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** Nodes that register with labels only (no capacity), as Orion's agents say hello. */
describe("scheduling on nodes that report no capacity", () => {
  let server: TestServer;
  const deployments = () => createClient(DeploymentService, server.grpc);

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-sched-")), "c.db")}`, RECONCILE_INTERVAL: "100ms" });
    const nodes = createClient(NodeService, server.grpc);
    for (const id of ["orion-1", "orion-2"]) await nodes.registerNode({ nodeId: id, name: id, labels: { role: "worker" }, tags: ["process"] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("places an orion/v1 service with resources on them, and explain says their capacity was not checked", async () => {
    const service = { name: "orion-web", command: "node server.js", replicas: 2, resources: { cpu: 0.1, memory: 64 } };
    const applied = await deployments().apply({ apiVersion: "orion/v1", spec: { services: [service] } });
    expect(applied.plan?.changes[0]?.unplaced).toEqual([]);
    const reps = await eventually(async () => {
      const s = (await deployments().getService({ serviceName: "orion-web" })).service;
      return s && s.replicaSet.length === 2 ? s.replicaSet : undefined;
    }, 10_000, "2 replicas launched");
    expect(reps.map((r) => r.nodeId).sort()).toEqual(["orion-1", "orion-2"]);
    const explain = await deployments().explainPlacement({ requirements: { resources: { cpu: 0.1, memoryMb: 64 }, requiredTags: ["process"] } });
    expect(explain.nodes.map((v) => [v.nodeId, v.feasible, v.reason])).toEqual([
      ["orion-1", true, "capacity not checked: the node reported none (agents that send labels only, such as Orion's)"],
      ["orion-2", true, "capacity not checked: the node reported none (agents that send labels only, such as Orion's)"],
    ]);
  });

  it("rejects a constraint \"=\" with two values at apply, naming the field", async () => {
    const service = { name: "pinned", command: "x", placement: { constraints: [{ key: "zone", operator: "=", values: ["a", "b"] }] } };
    await expect(deployments().apply({ spec: { services: [service] } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining('spec.services[0].placement.constraints[0].values: "=" takes exactly one value, got 2'),
    });
  });

  it("logs a replica that cannot be placed once, not on every pass, and says why in the service's status", async () => {
    await deployments().apply({ spec: { services: [{ name: "gpu-job", command: "train", placement: { requiredTags: ["gpu"] } }] } });
    const message = "1 replica cannot be placed: placed 0 of 1 on 2 nodes: 2 rejected by tags";
    await eventually(async () => (await deployments().getService({ serviceName: "gpu-job" })).service?.statusMessage === message, 5_000, "status message");
    // Ten more passes at 100 ms.
    await new Promise((r) => setTimeout(r, 1_000));
    const logged = server.logs.filter((l) => l.includes("replica cannot be placed") && l.includes("gpu-job"));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0])).toMatchObject({ service: "gpu-job", reason: message });
  });
});

describe("a node lost and back", () => {
  let server: TestServer;
  const deployments = () => createClient(DeploymentService, server.grpc);
  const nodes = () => createClient(NodeService, server.grpc);

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-lost-")), "c.db")}`,
      RECONCILE_INTERVAL: "100ms",
      HEARTBEAT_TTL: "400ms",
      REPLICA_GRACE: "300ms",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("cancels a lost replica's launch, so the returning node is not sent it again before the stop", async () => {
    await nodes().registerNode({ nodeId: "w1", name: "w1", tags: ["process"] });
    await deployments().apply({ spec: { services: [{ name: "api", command: "serve", replicas: 1 }] } });
    const first = await eventually(async () => (await deployments().getService({ serviceName: "api" })).service?.replicaSet.find((r) => r.jobId !== ""), 5_000, "replica launched");
    // w1 goes silent past its TTL and the grace period: its replica is lost, and w2 takes over.
    await nodes().registerNode({ nodeId: "w2", name: "w2", tags: ["process"] });
    const beat = setInterval(() => void nodes().heartbeat({ nodeId: "w2" }).catch(() => undefined), 100);
    try {
      await eventually(async () => (await deployments().getService({ serviceName: "api" })).service?.replicaSet.some((r) => r.id === first.id && r.status === "lost"), 10_000, "replica lost");
      const launch = await eventually(async () => {
        const job = (await deployments().getJob({ jobId: first.jobId })).job;
        return job?.status === JobStatus.CANCELLED ? job : undefined;
      }, 5_000, "launch job finished");
      expect(launch.error).toBe("node lost; replica placed elsewhere");
      // Back: the lost copy is stopped (with a stop job), and its launch stays cancelled.
      await nodes().heartbeat({ nodeId: "w1" });
      await eventually(async () => (await deployments().getService({ serviceName: "api" })).service?.replicaSet.find((r) => r.id === first.id)?.status === "stopped", 5_000, "lost copy stopped");
      expect((await deployments().getJob({ jobId: first.jobId })).job?.error).toBe("node lost; replica placed elsewhere");
    } finally {
      clearInterval(beat);
    }
  });
});
