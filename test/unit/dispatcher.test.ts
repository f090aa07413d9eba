import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { Dispatcher } from "../../src/managers/dispatcher.js";
import { JobEvents, type JobEvent } from "../../src/managers/job-events.js";
import { SessionRegistry } from "../../src/sessions/session-registry.js";
import { JobState } from "../../src/state/job-state.js";
import { ManualClock } from "../fakes/clock.js";
import { MemoryJobStore } from "../fakes/memory-job-store.js";
import { RecordingSession } from "../fakes/recording-session.js";

const logger = pino({ level: "silent" });
const deploy = (n: number) =>
  ({ type: "deploy_compose", projectName: `p${n}`, composeFile: "services: {}", env: { SECRET: "s3cret" }, revision: 1 }) as const;

describe("Dispatcher", () => {
  let store: MemoryJobStore;
  let sessions: SessionRegistry;
  let events: JobEvents;
  let clock: ManualClock;
  let dispatcher: Dispatcher;
  let seen: JobEvent[];

  const make = () =>
    new Dispatcher(store, new JobState(), sessions, events, logger, { ackTimeoutMs: 5000, maxAttempts: 3, maxLogChars: 100, now: clock.date });

  beforeEach(async () => {
    store = new MemoryJobStore();
    sessions = new SessionRegistry();
    events = new JobEvents();
    clock = new ManualClock();
    seen = [];
    events.onAny((e) => seen.push(e));
    dispatcher = make();
    await dispatcher.start();
  });

  it("persists a job as queued before anything is sent, and keeps it queued while the node is away", async () => {
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    expect(job.status).toBe("queued");
    expect(store.rows.get(job.id)?.status).toBe("queued");
  });

  it("dispatches at once to a connected node and sets the deadline from dispatch", async () => {
    const s = new RecordingSession("n1");
    sessions.attach(s);
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1), timeoutMs: 60_000 });
    expect(job.status).toBe("dispatched");
    expect(s.commandIds()).toEqual([job.id]);
    expect(job.deadline?.getTime()).toBe(clock.ms + 60_000);
  });

  it("delivers queued jobs in order when the node connects", async () => {
    const a = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    clock.advance(1);
    const b = await dispatcher.submit({ nodeId: "n1", payload: deploy(2) });
    const s = new RecordingSession("n1");
    sessions.attach(s);
    await new Promise((r) => setTimeout(r, 10));
    expect(s.commandIds()).toEqual([a.id, b.id]);
    expect(store.rows.get(a.id)?.status).toBe("dispatched");
  });

  it("tracks progress and completion with bounded logs, and ignores reports after the end", async () => {
    sessions.attach(new RecordingSession("n1"));
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    const line = (text: string) => ({ time: clock.date(), stream: "stdout", text });
    await dispatcher.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [line("pulling")], exitCode: 0, error: "", result: undefined });
    await dispatcher.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [line("x".repeat(150))], exitCode: 0, error: "", result: undefined });
    const done = await dispatcher.applyUpdate("n1", { jobId: job.id, status: "completed", lines: [line("done")], exitCode: 0, error: "", result: { ok: true } });
    expect(done?.status).toBe("completed");
    expect(done?.logs.length).toBeLessThanOrEqual(100);
    expect(done?.logs.endsWith("done\n")).toBe(true);
    const late = await dispatcher.applyUpdate("n1", { jobId: job.id, status: "failed", lines: [], exitCode: 1, error: "late", result: undefined });
    expect(late).toBeUndefined();
    expect(store.rows.get(job.id)?.status).toBe("completed");
    expect(seen.map((e) => e.job.status)).toEqual(["queued", "dispatched", "in_progress", "in_progress", "completed"]);
  });

  it("ignores a report from a node that does not own the job", async () => {
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    const r = await dispatcher.applyUpdate("n2", { jobId: job.id, status: "completed", lines: [], exitCode: 0, error: "", result: undefined });
    expect(r).toBeUndefined();
    expect(store.rows.get(job.id)?.status).toBe("queued");
  });

  it("redelivers an unacknowledged job and fails it after the last attempt", async () => {
    const s = new RecordingSession("n1");
    sessions.attach(s);
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    clock.advance(5000);
    await dispatcher.tick();
    expect(s.commandIds()).toEqual([job.id, job.id]);
    clock.advance(5000);
    await dispatcher.tick();
    clock.advance(5000);
    await dispatcher.tick();
    expect(store.rows.get(job.id)?.status).toBe("failed");
    expect(store.rows.get(job.id)?.attempts).toBe(3);
  });

  it("times out a job past its deadline and tells the agent to stop it", async () => {
    const s = new RecordingSession("n1");
    sessions.attach(s);
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1), timeoutMs: 1000 });
    await dispatcher.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [], exitCode: 0, error: "", result: undefined });
    clock.advance(1000);
    await dispatcher.tick();
    expect(store.rows.get(job.id)?.status).toBe("timed_out");
    expect(s.sent.at(-1)).toEqual({ kind: "cancel", jobId: job.id, reason: "timed out" });
  });

  it("cancels an unfinished job and refuses to cancel a finished one", async () => {
    const s = new RecordingSession("n1");
    sessions.attach(s);
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    const cancelled = await dispatcher.cancel(job.id, "user asked");
    expect(cancelled.status).toBe("cancelled");
    expect(s.sent.at(-1)).toMatchObject({ kind: "cancel", jobId: job.id });
    await expect(dispatcher.cancel(job.id, "again")).rejects.toThrow(/already finished/);
    await expect(dispatcher.cancel("nope", "")).rejects.toThrow(/not found/);
  });

  it("takes agents that never acknowledge at their word: launches run, other commands complete", async () => {
    sessions.attach(new RecordingSession("n1", false));
    const stop = await dispatcher.submit({ nodeId: "n1", payload: { type: "stop_replica", serviceName: "web", replicaId: "web-1" } });
    expect(stop.status).toBe("completed");
  });

  it("reloads unfinished jobs after a restart and delivers them on reconnect", async () => {
    const job = await dispatcher.submit({ nodeId: "n1", payload: deploy(1) });
    dispatcher.stop();
    const sessions2 = new SessionRegistry();
    const restarted = new Dispatcher(store, new JobState(), sessions2, new JobEvents(), logger, { ackTimeoutMs: 5000, maxAttempts: 3, maxLogChars: 100, now: clock.date });
    await restarted.start();
    const s = new RecordingSession("n1");
    sessions2.attach(s);
    await new Promise((r) => setTimeout(r, 10));
    expect(s.commandIds()).toEqual([job.id]);
    restarted.stop();
  });
});
