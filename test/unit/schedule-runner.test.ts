import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ScheduleRunner } from "../../src/managers/schedule-runner.js";
import { TaskManager } from "../../src/managers/task-manager.js";
import { ServiceState } from "../../src/state/service-state.js";
import { ManualClock } from "../fakes/clock.js";
import { memoryStores, type MemoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

const logger = pino({ level: "silent" });

/** A schedule runner and task manager over memory stores, a manual clock and one agent tagged "task". */
async function parts(stores: MemoryStores, clock: ManualClock, jobParts: JobParts) {
  const state = new ServiceState();
  state.load(await stores.services.listServices(), []);
  const tasks = new TaskManager(stores, jobParts.jobs, () => ({ nodes: [snap("n1", { tags: new Set(["process", "task"]) })] }), { defaultTimeoutMs: 60_000, keep: 20, now: clock.date }, logger);
  await tasks.start();
  const runner = new ScheduleRunner(state, tasks, stores.tasks, { intervalMs: 60_000, now: clock.date }, logger);
  return { tasks, runner };
}

describe("schedule runner (manual clock)", () => {
  let jobParts: JobParts | undefined;
  afterEach(() => jobParts?.stop());

  it("fires due times as tasks, skips one while a run goes on, runs a long gap once, and does not fire again after a restart", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:30Z"));
    const stores = memoryStores();
    await stores.services.saveService({ id: "s1", spec: spec("report", { command: "echo hi", schedule: "*/5 * * * *" }), specHash: "h", createdAt: clock.date(), updatedAt: clock.date() });
    jobParts = await startJobParts(stores.jobs, clock);
    const agent = new RecordingSession("n1");
    jobParts.sessions.attach(agent);
    const { runner } = await parts(stores, clock, jobParts);
    const runs = async () => (await stores.tasks.list({ serviceName: "report", limit: 100 })).reverse().map((t) => `${t.scheduledAt?.toISOString().slice(11, 16)} ${t.status}`);

    await runner.tick();
    expect(await runs()).toEqual([]);

    clock.ms = Date.parse("2026-01-01T00:05:00.200Z");
    await runner.tick();
    expect(await runs()).toEqual(["00:05 pending"]);
    expect(agent.commandIds()).toHaveLength(1);

    // Still running at the next time: that time is skipped, not run alongside.
    clock.ms = Date.parse("2026-01-01T00:10:00.100Z");
    await runner.tick();
    expect(await runs()).toEqual(["00:05 pending", "00:10 skipped"]);

    const [jobId] = agent.commandIds();
    await jobParts.jobs.applyUpdate("n1", { jobId, status: "completed", lines: [], exitCode: 0, error: "", result: undefined });
    await new Promise((r) => setTimeout(r, 10));
    expect(await runs()).toEqual(["00:05 succeeded", "00:10 skipped"]);

    // An hour with no tick (the control plane was down): the latest time runs, once.
    clock.ms = Date.parse("2026-01-01T01:12:00Z");
    await runner.tick();
    await runner.tick();
    expect(await runs()).toEqual(["00:05 succeeded", "00:10 skipped", "01:10 pending"]);

    // A new runner over the same store (a restart) reads the last fire time: nothing fires twice.
    const again = await parts(stores, clock, jobParts);
    await again.runner.tick();
    expect(await runs()).toHaveLength(3);
    clock.ms = Date.parse("2026-01-01T01:15:00Z");
    await again.runner.tick();
    // 01:10's run is still going: 01:15 is skipped.
    expect((await runs()).at(-1)).toBe("01:15 skipped");
  });

  it("runs overlapping times when the service allows overlap", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00.500Z"));
    const stores = memoryStores();
    await stores.services.saveService({
      id: "s1", spec: spec("tick", { command: "sleep 5", schedule: "* * * * * *", scheduleAllowOverlap: true }), specHash: "h", createdAt: clock.date(), updatedAt: clock.date(),
    });
    jobParts = await startJobParts(stores.jobs, clock);
    jobParts.sessions.attach(new RecordingSession("n1"));
    const { runner, tasks } = await parts(stores, clock, jobParts);
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await runner.tick();
    }
    expect(tasks.active("tick", "schedule")).toBe(3);
  });
});
