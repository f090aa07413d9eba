import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeploymentManager } from "../../src/managers/deployment-manager.js";
import { JobEvents } from "../../src/managers/job-events.js";
import { JobLifecycleManager } from "../../src/managers/job-lifecycle.js";
import { NodeRegistry } from "../../src/managers/node-registry.js";
import type { Deployment, DeploymentRevision } from "../../src/model/deployment.js";
import type { Job } from "../../src/model/job.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { noRequirements } from "../../src/model/placement.js";
import { clusterSnapshot } from "../../src/orchestrator/cluster-view.js";
import { SessionJobDelivery } from "../../src/sessions/job-delivery.js";
import { SessionRegistry } from "../../src/sessions/session-registry.js";
import { DeploymentState } from "../../src/state/deployment-state.js";
import { JobState } from "../../src/state/job-state.js";
import { NodeState } from "../../src/state/node-state.js";
import { ServiceState } from "../../src/state/service-state.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { eventually } from "../support/agent-process.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";

const logger = pino({ level: "silent" });
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const compose = "services:\n  web:\n    image: nginx\n";

/** The parts a server starts for deployments, on a real database. */
async function startManagers(db: Database) {
  const nodeState = new NodeState();
  nodeState.load(await db.nodes.listAll());
  const registry = new NodeRegistry({ store: db.nodes, state: nodeState, logger });
  const sessions = new SessionRegistry();
  const delivery = new SessionJobDelivery(sessions, logger, { ackTimeoutMs: 10_000, maxAttempts: 5 });
  const jobs = new JobLifecycleManager(db.jobs, new JobState(), delivery, new JobEvents(), logger, { maxLogChars: 1000 });
  await jobs.start();
  delivery.start(jobs);
  const state = new DeploymentState();
  const snapshot = () => clusterSnapshot(nodeState, state, new ServiceState());
  const deployments = new DeploymentManager({ store: db.deployments, state, bus: jobs, uow: db, nodes: registry, snapshot, logger });
  await deployments.start();
  return { jobs, deployments, sessions, state, stop: () => (jobs.stop(), delivery.stop()) };
}

describe.each(providers())("deployment transactions on %s", (provider) => {
  let tdb: TestDatabase;
  let db: Database;
  let parts: Awaited<ReturnType<typeof startManagers>> | undefined;

  beforeEach(async () => {
    tdb = await createTestDatabase(provider);
    db = await openDatabase(tdb.url, logger);
    await db.nodes.upsert(node("n1"));
  });
  afterEach(async () => {
    parts?.stop();
    parts = undefined;
    await db?.close();
    await tdb?.drop();
  });

  const apply = (id: string) =>
    parts!.deployments.apply({ deploymentId: id, projectName: "", templateId: "", renderedCompose: compose, env: { A: "1" }, nodeId: "n1", requirements: noRequirements() });

  it("writes a deployment, its revision and its job together, then sends the job", async () => {
    parts = await startManagers(db);
    const agent = new RecordingSession("n1");
    parts.sessions.attach(agent);
    const { deployment, job } = await apply("web");
    expect([deployment.status, job?.status, agent.commandIds()]).toEqual(["deploying", "dispatched", [job?.id]]);
    expect(await db.deployments.get("web")).toMatchObject({ status: "deploying", lastJobId: job?.id, revision: 1 });
    expect((await db.deployments.listRevisions("web"))[0]).toMatchObject({ revision: 1, jobId: job?.id, outcome: "dispatched" });
    expect((await db.jobs.get(job!.id))?.status).toBe("dispatched");
  });

  it("rolls back the deployment and its job when a write after the deployment's fails", async () => {
    parts = await startManagers(db);
    const agent = new RecordingSession("n1");
    parts.sessions.attach(agent);
    // A stray revision 1 makes the revision insert, the last write of the apply, fail.
    await db.deployments.addRevision(revision("web", 1, ""));
    await expect(apply("web")).rejects.toThrow();
    expect(await db.deployments.get("web")).toBeUndefined();
    expect(await db.jobs.list({ deploymentId: "web" })).toEqual([]);
    expect([parts.state.get("web"), parts.jobs.unfinished(new Set(["deploy_compose"])), agent.sent]).toEqual([undefined, [], []]);
  });

  it("keeps a write made outside an open transaction when that transaction rolls back", async () => {
    const failing = db.transaction(async (tx) => {
      await tx.chunkTargets.set("inside", 2);
      await new Promise((r) => setTimeout(r, 50));
      throw new Error("rolled back on purpose");
    }).then(() => "committed", (err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 10));
    await db.chunkTargets.set("outside", 3);
    expect(await failing).toBe("rolled back on purpose");
    expect(await db.chunkTargets.list()).toEqual([{ chunkId: "outside", factor: 3 }]);
  });

  it("repairs at start-up the pending deployments an older server left without their job", async () => {
    // As a server killed between the deployment write and its job left them:
    await db.deployments.save(deployment("no-job", "n1"));
    await db.deployments.addRevision(revision("no-job", 1, ""));
    await db.deployments.save(deployment("no-revision", "n1"));
    await db.deployments.save(deployment("node-gone", "n9"));
    await db.deployments.addRevision(revision("node-gone", 1, ""));
    // ...and one whose job was written but never linked to it.
    await db.deployments.save(deployment("unlinked", "n1"));
    await db.deployments.addRevision(revision("unlinked", 1, ""));
    await db.jobs.create(job("unlinked-job", "unlinked"));
    parts = await startManagers(db);

    for (const id of ["no-job", "no-revision"]) {
      const jobs = await db.jobs.list({ deploymentId: id });
      expect(jobs.map((j) => [j.type, j.status, j.payload.type === "deploy_compose" && j.payload.revision])).toEqual([["deploy_compose", "queued", 1]]);
      expect(await db.deployments.get(id)).toMatchObject({ status: "pending", lastJobId: jobs[0].id });
      expect(await db.deployments.listRevisions(id)).toMatchObject([{ revision: 1, jobId: jobs[0].id, outcome: "queued" }]);
    }
    expect(await db.deployments.get("node-gone")).toMatchObject({ status: "failed", lastError: expect.stringMatching(/node n9 is no longer registered/) });
    expect(await db.deployments.listRevisions("node-gone")).toMatchObject([{ outcome: "failed", jobId: "" }]);
    expect(await db.jobs.list({ deploymentId: "node-gone" })).toEqual([]);
    expect((await db.jobs.list({ deploymentId: "unlinked" })).map((j) => j.id)).toEqual(["unlinked-job"]);
    expect(await db.deployments.get("unlinked")).toMatchObject({ status: "pending", lastJobId: "unlinked-job" });

    // The repaired job goes out when its agent connects, and a second start repairs nothing more.
    const agent = new RecordingSession("n1");
    parts.sessions.attach(agent);
    await eventually(() => agent.commandIds().length === 3, 10_000, "the three deploy jobs sent");
    parts.stop();
    parts = await startManagers(db);
    expect(await db.jobs.list({ types: ["deploy_compose"] })).toHaveLength(3);
  });
});

function deployment(id: string, nodeId: string): Deployment {
  return {
    id, projectName: id, templateId: "", nodeId, status: "pending", revision: 1, renderedCompose: compose, composeHash: "h", env: { A: "1" },
    requirements: { ...noRequirements(), requireDocker: true }, lastJobId: "", lastLogs: "", lastError: "", removing: false, createdAt: at(1), updatedAt: at(1),
  };
}

function revision(deploymentId: string, n: number, jobId: string): DeploymentRevision {
  return { deploymentId, revision: n, renderedCompose: compose, composeHash: "h", env: { A: "1" }, action: "apply", nodeId: "n1", jobId, outcome: "pending", rollbackOf: 0, createdAt: at(1) };
}

function job(id: string, deploymentId: string): Job {
  return {
    id, nodeId: "n1", type: "deploy_compose", status: "queued", payload: { type: "deploy_compose", projectName: deploymentId, composeFile: compose, env: { A: "1" }, revision: 1 },
    deploymentId, serviceName: "", replicaId: "", logs: "", error: "", exitCode: 0, result: undefined, attempts: 0, timeoutMs: 60_000,
    createdAt: at(2), updatedAt: at(2), dispatchedAt: undefined, startedAt: undefined, finishedAt: undefined, deadline: undefined,
  };
}

function node(id: string): Node {
  return {
    id, name: id, address: "10.0.0.1", labels: {}, tags: [], capabilities: { ...emptyCapabilities(), dockerAvailable: true, cpuCount: 4 }, ports: {},
    status: "online", eligibility: "eligible", draining: false, agentVersion: "1.0", tokenHash: "a".repeat(64), anonymous: false, agentKind: "rest",
    metrics: undefined, lastHeartbeatAt: at(5), createdAt: at(1), updatedAt: at(2),
  };
}
