import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../fakes/clock.js";
import { MemoryJobStore } from "../fakes/memory-job-store.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

const deploy = (n: number) =>
  ({ type: "deploy_compose", projectName: `p${n}`, composeFile: "services: {}", env: { SECRET: "s3cret" }, revision: 1 }) as const;
const settle = () => new Promise((r) => setTimeout(r, 10));

describe("job delivery to sessions", () => {
  let store: MemoryJobStore;
  let clock: ManualClock;
  let parts: JobParts;

  beforeEach(async () => {
    store = new MemoryJobStore();
    clock = new ManualClock();
    parts = await startJobParts(store, clock);
  });
  afterEach(() => parts.stop());

  it("delivers queued jobs in order when the node connects", async () => {
    const a = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    clock.advance(1);
    const b = await parts.jobs.submit({ nodeId: "n1", payload: deploy(2) });
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    await settle();
    expect(s.commandIds()).toEqual([a.id, b.id]);
    expect(store.rows.get(a.id)?.status).toBe("dispatched");
  });

  it("redelivers an unacknowledged job and fails it after the last attempt", async () => {
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    clock.advance(5000);
    await parts.delivery.tick();
    expect(s.commandIds()).toEqual([job.id, job.id]);
    clock.advance(5000);
    await parts.delivery.tick();
    clock.advance(5000);
    await parts.delivery.tick();
    expect(store.rows.get(job.id)?.status).toBe("failed");
    expect(store.rows.get(job.id)?.attempts).toBe(3);
  });

  it("does not send again a job past its deadline: the lifecycle times it out", async () => {
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1), timeoutMs: 5000 });
    clock.advance(5000);
    await parts.delivery.tick();
    expect(s.commandIds()).toEqual([job.id]);
    await parts.jobs.tick();
    expect(store.rows.get(job.id)?.status).toBe("timed_out");
  });

  it("takes agents that never acknowledge at their word: launches run, other commands complete", async () => {
    parts.sessions.attach(new RecordingSession("n1", false));
    const stop = await parts.jobs.submit({ nodeId: "n1", payload: { type: "stop_replica", serviceName: "web", replicaId: "web-1" } });
    expect(stop.status).toBe("completed");
  });

  it("fails a job the connected agent cannot run, without sending it", async () => {
    const s = new RecordingSession("n1");
    s.supports = () => false;
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    expect([job.status, job.error, s.commandIds()]).toEqual(["failed", "the agent on node n1 (test) cannot run deploy_compose commands", []]);
  });

  it("reloads unfinished jobs after a restart and delivers them on reconnect", async () => {
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    parts.stop();
    const restarted = await startJobParts(store, clock);
    const s = new RecordingSession("n1");
    restarted.sessions.attach(s);
    await settle();
    expect(s.commandIds()).toEqual([job.id]);
    restarted.stop();
  });
});
