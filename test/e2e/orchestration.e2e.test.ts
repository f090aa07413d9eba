import { createClient } from "@connectrpc/connect";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { PlacementStrategy } from "../../gen/proto/capstan/v1/placement_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { recordingDocker } from "../support/recording-docker.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// A marker no other process carries, so the test can clean up replicas of a killed agent.
const MARK = "300.4242";

describe("orchestration with real agents (process driver)", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-orch-"));
  const docker = recordingDocker();
  let server: TestServer;
  const agents = new Map<string, AgentProcess>();
  const ids = new Map<string, string>();
  const deployments = () => createClient(DeploymentService, server.grpc);
  const nodes = () => createClient(NodeService, server.grpc);

  const running = async () => {
    const svc = (await deployments().getService({ serviceName: "web" })).service;
    return (svc?.replicaSet ?? []).filter((r) => r.status === "running");
  };

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      HEARTBEAT_TTL: "1s",
      REPLICA_GRACE: "1s",
      RECONCILE_INTERVAL: "300ms",
      MAX_PARALLEL: "3",
    });
    for (const name of ["node-a", "node-b", "node-c"]) {
      agents.set(name, startAgent(["--server", server.url, "--state-dir", join(dir, name), "--workdir", dir, "--name", name, "--label", `zone=${name}`, "--max-backoff", "1000"], { PATH: `${docker.dir}:${process.env.PATH}` }));
    }
    await eventually(async () => (await nodes().listNodes({})).nodes.filter((n) => n.connected).length === 3, 30_000, "three agents connected");
    for (const n of (await nodes().listNodes({})).nodes) ids.set(n.name, n.id);
  });
  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    await server?.stop();
    try {
      execFileSync("pkill", ["-f", MARK]);
    } catch {
      // nothing left to kill
    }
  });

  it("spreads a 3-replica service over the 3 agents", async () => {
    await deployments().apply({ spec: { services: [{ name: "web", command: `sleep ${MARK}`, replicas: 3, placement: { strategy: PlacementStrategy.SPREAD } }] } });
    const reps = await eventually(async () => ((await running()).length === 3 ? running() : undefined), 20_000, "3 replicas running");
    expect(new Set(reps.map((r) => r.nodeId)).size).toBe(3);
  });

  it("draining a node moves its replica away and places nothing new there", async () => {
    const c = ids.get("node-c") as string;
    await nodes().drainNode({ nodeId: c });
    const reps = await eventually(async () => {
      const r = await running();
      return r.length === 3 && r.every((x) => x.nodeId !== c) ? r : undefined;
    }, 20_000, "replica moved off the drained node");
    expect(reps.map((r) => r.nodeId)).not.toContain(c);
    const explain = await deployments().explainPlacement({ serviceName: "web" });
    expect(explain.nodes.find((v) => v.nodeId === c)).toMatchObject({ feasible: false, rejectedBy: "eligible" });
    expect(explain.chosenNodeIds).not.toContain(c);
  });

  it("moves the replica of a killed agent after the grace period, and explains why each node was or was not chosen", async () => {
    const b = ids.get("node-b") as string;
    agents.get("node-b")?.child.kill("SIGKILL");
    const reps = await eventually(async () => {
      const r = await running();
      return r.length === 3 && r.every((x) => x.nodeId === ids.get("node-a")) ? r : undefined;
    }, 20_000, "replicas moved to the last eligible node");
    expect(reps).toHaveLength(3);
    const explain = await deployments().explainPlacement({ serviceName: "web" });
    const byId = new Map(explain.nodes.map((v) => [v.nodeId, v]));
    expect(byId.get(b)).toMatchObject({ feasible: false, rejectedBy: "online", reason: "node is offline" });
    expect(byId.get(ids.get("node-c") as string)).toMatchObject({ feasible: false, rejectedBy: "eligible" });
    // An existing service is explained where it runs: nothing new to place on top of it.
    expect(byId.get(ids.get("node-a") as string)).toMatchObject({ feasible: true, running: 3, placed: 0, stopping: 0 });
    expect(explain.chosenNodeIds).toEqual([]);
    expect(explain.summary).toBe("runs 3 of 3 on node-a; no change");
  });

  it("rolls a deployment back to the previous revision", async () => {
    const a = ids.get("node-a") as string;
    const v1 = "services:\n  app:\n    image: app:1\n";
    const v2 = "services:\n  app:\n    image: app:2\n";
    const done = async (jobId: string) =>
      eventually(async () => (await deployments().getJob({ jobId })).job?.status === JobStatus.COMPLETED, 15_000, `job ${jobId} completed`);
    await done((await deployments().createDeployment({ deploymentId: "app", renderedCompose: v1, nodeId: a })).jobId);
    await done((await deployments().createDeployment({ deploymentId: "app", renderedCompose: v2, nodeId: a })).jobId);
    const rolled = await deployments().rollbackDeployment({ deploymentId: "app" });
    await done(rolled.jobId);
    const revisions = (await deployments().listRevisions({ deploymentId: "app" })).revisions;
    expect(revisions.map((r) => [r.revision, r.action, r.rollbackOf])).toEqual([[3, "rollback", 1], [2, "apply", 0], [1, "apply", 0]]);
    expect(revisions[0].composeHash).toBe(revisions[2].composeHash);
    const file = join(dir, "node-a", "projects", "app", "compose.yaml");
    expect(readFileSync(file, "utf8")).toBe(v1);
    expect((await deployments().getDeployment({ deploymentId: "app" })).deployment?.revision).toBe(3);
  });
});
