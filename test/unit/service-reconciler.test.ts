import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { launchStatus } from "../../src/managers/replica-status.js";
import { ServiceReconciler } from "../../src/managers/service-reconciler.js";
import type { BackoffPolicy } from "../../src/orchestrator/launch-backoff.js";
import { StoreUnavailableError } from "../../src/model/errors.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { ServiceState } from "../../src/state/service-state.js";
import { ManualClock } from "../fakes/clock.js";
import { memoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

describe("what a launch job's state means for its replica", () => {
  it.each([
    { status: "dispatched", result: undefined, replica: undefined },
    { status: "in_progress", result: undefined, replica: "running" },
    { status: "in_progress", result: { phase: "before_start" }, replica: undefined },
    { status: "in_progress", result: { phase: "started" }, replica: "running" },
    { status: "completed", result: { phase: "before_start" }, replica: "stopped" },
    { status: "failed", result: { hook: "beforeStart" }, replica: "failed" },
    { status: "timed_out", result: undefined, replica: "failed" },
    { status: "cancelled", result: undefined, replica: "stopped" },
  ] as const)("$status with $result: $replica", ({ status, result, replica }) => {
    expect(launchStatus({ status, result })).toBe(replica);
  });
});

describe("service reconciler", () => {
  let parts: JobParts | undefined;
  afterEach(() => parts?.stop());

  /** A started reconciler over in-memory stores, one service "web" and node n1 with a recording agent. */
  async function started(o: { replicas?: number; acknowledges?: boolean; nodes?: (clock: ManualClock) => () => Node[]; heartbeatTtlMs?: number; backoff?: BackoffPolicy; restartOn?: ReturnType<typeof memoryStores> } = {}) {
    const clock = new ManualClock();
    const stores = o.restartOn ?? memoryStores();
    if (!o.restartOn) await stores.services.saveService({ id: "s1", spec: { ...spec("web"), replicas: o.replicas ?? 1 }, specHash: "h1", createdAt: clock.date(), updatedAt: clock.date() });
    parts = await startJobParts(stores.jobs, clock);
    const agent = new RecordingSession("n1", o.acknowledges ?? true);
    parts.sessions.attach(agent);
    const state = new ServiceState();
    const reconciler = new ServiceReconciler(stores, state, parts.jobs, o.nodes?.(clock) ?? (() => []), () => ({ nodes: [snap("n1")] }), {
      intervalMs: 60_000, graceMs: 1000, heartbeatTtlMs: o.heartbeatTtlMs ?? 1000, maxParallel: 3, backoff: o.backoff, now: clock.now,
    }, pino({ level: "silent" }));
    await reconciler.start();
    return { clock, stores, agent, state, reconciler, jobs: parts.jobs };
  }
  const settle = () => new Promise((r) => setTimeout(r, 10));

  // One row per kind of agent: acknowledging agents (gRPC, seed 002) and seed 003's, taken at its word.
  it.each([
    { acknowledges: true, job: "dispatched", replica: "pending" },
    { acknowledges: false, job: "in_progress", replica: "running" },
  ])("launches a replica with one write of the replica and one of its job (agent acknowledges: $acknowledges)", async (row) => {
    const { stores, agent, state, reconciler } = await started({ acknowledges: row.acknowledges });
    const { jobs, services } = stores;
    await reconciler.pass();
    await new Promise((r) => setTimeout(r, 10));
    reconciler.stop();
    const [replica] = [...services.replicas.values()];
    const [job] = [...jobs.rows.values()];
    expect([services.replicaWrites, jobs.writes]).toEqual([1, 1]);
    expect([replica.jobId, replica.status, job.status, agent.commandIds()]).toEqual([job.id, row.replica, row.job, [job.id]]);
    expect(state.replicas.get(replica.id)).toEqual(replica);
  });

  it("a replica whose agent is still running hooks.beforeStart stays pending, and runs once the agent reports the start", async () => {
    const { clock, agent, state, reconciler } = await started();
    await reconciler.pass();
    const jobId = agent.commandIds()[0];
    const replica = () => [...state.replicas.values()][0];
    await parts!.jobs.applyUpdate("n1", { jobId, status: "in_progress", lines: [], exitCode: 0, error: "", result: { phase: "before_start" } });
    await parts!.jobs.applyUpdate("n1", { jobId, status: "in_progress", lines: [{ time: clock.date(), stream: "stdout", text: "migrating" }], exitCode: 0, error: "", result: undefined });
    await settle();
    expect(replica().status).toBe("pending");
    await parts!.jobs.applyUpdate("n1", { jobId, status: "in_progress", lines: [], exitCode: 0, error: "", result: { phase: "started" } });
    await settle();
    reconciler.stop();
    expect(replica().status).toBe("running");
  });

  it("a job change applied by a view that is behind overwrites no later decision and brings back no collected replica; a refused status write is retried on the next pass", async () => {
    const { stores, state, reconciler } = await started({ replicas: 3 });
    await reconciler.pass();
    const [a, b, c] = [...state.replicas.values()];
    const update = (replicaJob: string) => parts!.jobs.applyUpdate("n1", { jobId: replicaJob, status: "in_progress", lines: [], exitCode: 0, error: "", result: undefined });

    // A store that refuses the write once (away): the status stays as it was, and the next pass writes it.
    const write = stores.services.updateReplicaStatus.bind(stores.services);
    let refusals = 1;
    stores.services.updateReplicaStatus = (...args) => (refusals-- > 0 ? Promise.reject(new StoreUnavailableError("the store is away")) : write(...args));
    await update(a.jobId);
    await settle();
    expect([stores.services.replicas.get(a.id)?.status, state.replicas.get(a.id)?.status]).toEqual(["pending", "pending"]);
    await reconciler.pass();
    expect([stores.services.replicas.get(a.id)?.status, state.replicas.get(a.id)?.status]).toEqual(["running", "running"]);

    // Another replica of the control plane decided to stop b and collected c, which this view has not read yet;
    // then their jobs report in.
    stores.services.replicas.set(b.id, { ...stores.services.replicas.get(b.id)!, status: "stopping" });
    stores.services.replicas.delete(c.id);
    await update(b.jobId);
    await update(c.jobId);
    await settle();
    reconciler.stop();
    expect(stores.services.replicas.get(b.id)?.status).toBe("stopping");
    expect(stores.services.replicas.has(c.id)).toBe(false);
  });

  it("after a restart, a replica whose launch job ended while its own status write was lost (a kill between the two) takes its job's status", async () => {
    const first = await started();
    await first.reconciler.pass();
    const [r] = [...first.state.replicas.values()];
    await first.jobs.applyUpdate("n1", { jobId: r.jobId, status: "in_progress", lines: [], exitCode: 0, error: "", result: undefined });
    await settle();
    first.reconciler.stop();
    parts?.stop();
    expect(first.stores.services.replicas.get(r.id)?.status).toBe("running");
    // The job's end was written; the process died before the replica's status followed it.
    const job = first.stores.jobs.rows.get(r.jobId)!;
    first.stores.jobs.rows.set(job.id, { ...job, status: "failed", error: "exit code 3", exitCode: 3, finishedAt: first.clock.date() });
    const second = await started({ restartOn: first.stores });
    await second.reconciler.pass();
    second.reconciler.stop();
    expect([first.stores.services.replicas.get(r.id)?.status, second.state.replicas.get(r.id)?.status]).toEqual(["failed", "failed"]);
  });

  it("stops a replica its agent still runs after the control plane gave its launch up, once, and launches its replacement", async () => {
    // What the node's agent says runs there, as of its last heartbeat.
    let running: string[] = [];
    let heartbeatAt = new Date(0);
    const nodes = (clock: ManualClock) => (): Node[] => [{
      id: "n1", name: "n1", address: "10.0.0.1", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status: "online", eligibility: "eligible",
      draining: false, agentVersion: "", agentKind: "grpc", anonymous: false, tokenHash: "", createdAt: clock.date(), updatedAt: clock.date(), lastHeartbeatAt: heartbeatAt,
      metrics: { cpuUsage: 0, memUsage: 0, diskFreeMb: 0, runningContainers: running, memoryUsedMb: 0, diskUsedMb: 0, cacheHitRate: 0, totalChunks: 0, activeConnections: 0, uploadSpeedMbps: 0, downloadSpeedMbps: 0, load1: 0 },
    }];
    const { clock, agent, state, reconciler, jobs } = await started({ nodes, heartbeatTtlMs: 60_000 });
    await reconciler.pass();
    const first = [...state.replicas.values()][0];
    // Its reports never arrived: the launch was given up as failed, while the agent runs the process.
    await jobs.applyUpdate("n1", { jobId: first.jobId, status: "failed", lines: [], exitCode: 1, error: "not acknowledged", result: undefined });
    await settle();
    expect(state.replicas.get(first.id)?.status).toBe("failed");
    clock.advance(5_000);
    running = [first.id];
    heartbeatAt = clock.date();
    await reconciler.pass();
    await reconciler.pass();
    reconciler.stop();
    const commands = agent.sent.flatMap((m) => (m.kind === "command" ? [m.job.payload] : []));
    const stops = commands.filter((p) => p.type === "stop_replica");
    expect(stops).toEqual([{ type: "stop_replica", serviceName: "web", replicaId: first.id }]);
    expect(commands.filter((p) => p.type === "launch_replica")).toHaveLength(2);
    // The ended replica keeps its status: it failed, and its stop is the orphan's, not a decision about it.
    expect(state.replicas.get(first.id)?.status).toBe("failed");
  });

  it("backs off a service whose launches fail: 1 s, then 2 s, saying so on the service; a new spec launches at once", async () => {
    const { clock, stores, agent, state, reconciler } = await started({ backoff: { baseMs: 1000, maxMs: 60_000 } });
    const failLast = async () => {
      const jobId = agent.commandIds().at(-1) as string;
      await parts?.jobs.applyUpdate("n1", { jobId, status: "failed", lines: [], exitCode: 7, error: "hooks.beforeStart exited with 7", result: undefined });
      await settle();
    };
    const launches = () => agent.commandIds().length;
    await reconciler.pass();
    expect(launches()).toBe(1);
    await failLast();
    await reconciler.pass();
    expect(launches()).toBe(1);
    expect(state.messages.get("web")).toMatch(/^launch failed 1 time \(hooks.beforeStart exited with 7\); retrying at 2026-01-01T00:00:01.000Z$/);
    clock.advance(1000);
    await reconciler.pass();
    expect(launches()).toBe(2);
    await failLast();
    clock.advance(1000);
    await reconciler.pass();
    expect(launches()).toBe(2);
    expect(state.messages.get("web")).toContain("launch failed 2 times");
    clock.advance(1000);
    await reconciler.pass();
    expect(launches()).toBe(3);
    await failLast();
    state.services.set("web", { id: "s1", spec: spec("web", { command: "fixed" }), specHash: "h2", createdAt: clock.date(), updatedAt: clock.date() });
    await reconciler.pass();
    expect(launches()).toBe(4);
    reconciler.stop();
  });
});
