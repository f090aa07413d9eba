import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ServiceReconciler } from "../../src/managers/service-reconciler.js";
import { ServiceState } from "../../src/state/service-state.js";
import { ManualClock } from "../fakes/clock.js";
import { memoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

describe("service reconciler", () => {
  let parts: JobParts | undefined;
  afterEach(() => parts?.stop());

  // One row per kind of agent: acknowledging agents (gRPC, seed 002) and seed 003's, taken at its word.
  it.each([
    { acknowledges: true, job: "dispatched", replica: "pending" },
    { acknowledges: false, job: "in_progress", replica: "running" },
  ])("launches a replica with one write of the replica and one of its job (agent acknowledges: $acknowledges)", async (row) => {
    const clock = new ManualClock();
    const stores = memoryStores();
    const { jobs, services } = stores;
    await services.saveService({ id: "s1", spec: spec("web"), specHash: "h1", createdAt: clock.date(), updatedAt: clock.date() });
    parts = await startJobParts(jobs, clock);
    const agent = new RecordingSession("n1", row.acknowledges);
    parts.sessions.attach(agent);
    const state = new ServiceState();
    const reconciler = new ServiceReconciler(stores, state, parts.jobs, () => [], () => ({ nodes: [snap("n1")] }), {
      intervalMs: 60_000, graceMs: 1000, heartbeatTtlMs: 1000, maxParallel: 3, now: clock.now,
    }, pino({ level: "silent" }));
    await reconciler.start();
    await reconciler.pass();
    await new Promise((r) => setTimeout(r, 10));
    reconciler.stop();
    const [replica] = [...services.replicas.values()];
    const [job] = [...jobs.rows.values()];
    expect([services.replicaWrites, jobs.writes]).toEqual([1, 1]);
    expect([replica.jobId, replica.status, job.status, agent.commandIds()]).toEqual([job.id, row.replica, row.job, [job.id]]);
    expect(state.replicas.get(replica.id)).toEqual(replica);
  });
});
