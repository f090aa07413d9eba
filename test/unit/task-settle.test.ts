import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { TaskManager } from "../../src/managers/task-manager.js";
import { ManualClock } from "../fakes/clock.js";
import { memoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

const logger = pino({ level: "silent" });

describe("settling tasks left behind by a replica that died", () => {
  let jobParts: JobParts | undefined;
  afterEach(() => jobParts?.stop());

  it("moves on a task whose job finished but whose own row was never written, and leaves the others", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const stores = memoryStores();
    jobParts = await startJobParts(stores.jobs, clock);
    const agent = new RecordingSession("n1");
    jobParts.sessions.attach(agent);
    const options = { defaultTimeoutMs: 60_000, keep: 20, now: clock.date };
    const snapshot = () => ({ nodes: [snap("n1", { tags: new Set(["process", "task"]) })] });
    const first = new TaskManager(stores, jobParts.jobs, snapshot, options, logger);
    await first.start();
    const done = await first.run({ spec: spec("once", { command: "true" }), kind: "manual" });
    const still = await first.run({ spec: spec("long", { command: "sleep 60" }), kind: "manual" });
    const [doneJob, stillJob] = agent.commandIds();
    await jobParts.jobs.applyUpdate("n1", { jobId: stillJob, status: "in_progress", lines: [], exitCode: 0, error: "", result: undefined });
    await jobParts.jobs.applyUpdate("n1", { jobId: doneJob, status: "completed", lines: [], exitCode: 0, error: "", result: undefined });
    await new Promise((r) => setTimeout(r, 10));
    // The replica that took the report died before writing the task: the row still says what it said before.
    await stores.tasks.save({ ...done, status: "running" });
    expect((await stores.tasks.get(done.id))?.status).toBe("running");

    // Another replica (the leader), which never knew the task, settles it from its job.
    const leader = new TaskManager(stores, jobParts.jobs, snapshot, options, logger);
    await leader.settle();
    expect((await stores.tasks.get(done.id))?.status).toBe("succeeded");
    expect((await stores.tasks.get(still.id))?.status).toBe("running");
  });
});
