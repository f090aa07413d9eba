import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../fakes/clock.js";
import { MemoryJobStore } from "../fakes/memory-job-store.js";
import { memoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { startJobParts, type JobParts } from "../support/job-parts.js";

const deploy = (n: number) =>
  ({ type: "deploy_compose", projectName: `p${n}`, composeFile: "services: {}", env: { SECRET: "s3cret" }, revision: 1 }) as const;

describe("job lifecycle", () => {
  let store: MemoryJobStore;
  let clock: ManualClock;
  let parts: JobParts;

  beforeEach(async () => {
    store = new MemoryJobStore();
    clock = new ManualClock();
    parts = await startJobParts(store, clock);
  });
  afterEach(() => parts.stop());

  it("persists a job as queued before anything is sent, and keeps it queued while the node is away", async () => {
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    expect(job.status).toBe("queued");
    expect(store.rows.get(job.id)?.status).toBe("queued");
    expect(store.writes).toBe(1);
  });

  it("writes a job for a connected node once, already dispatched, with the deadline set from dispatch", async () => {
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1), timeoutMs: 60_000 });
    expect(job.status).toBe("dispatched");
    expect(s.commandIds()).toEqual([job.id]);
    expect(job.deadline?.getTime()).toBe(clock.ms + 60_000);
    expect([store.writes, store.rows.get(job.id)?.status]).toEqual([1, "dispatched"]);
    expect(parts.seen.map((e) => e.job.status)).toEqual(["dispatched"]);
  });

  it("tracks progress and completion with bounded logs, and ignores reports after the end", async () => {
    parts.sessions.attach(new RecordingSession("n1"));
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    const line = (text: string) => ({ time: clock.date(), stream: "stdout", text });
    await parts.jobs.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [line("pulling")], exitCode: 0, error: "", result: undefined });
    await parts.jobs.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [line("x".repeat(150))], exitCode: 0, error: "", result: undefined });
    const done = await parts.jobs.applyUpdate("n1", { jobId: job.id, status: "completed", lines: [line("done")], exitCode: 0, error: "", result: { ok: true } });
    expect(done?.status).toBe("completed");
    expect(done?.logs.length).toBeLessThanOrEqual(100);
    expect(done?.logs.endsWith("done\n")).toBe(true);
    const late = await parts.jobs.applyUpdate("n1", { jobId: job.id, status: "failed", lines: [], exitCode: 1, error: "late", result: undefined });
    expect(late).toBeUndefined();
    expect(store.rows.get(job.id)?.status).toBe("completed");
    expect(parts.seen.map((e) => e.job.status)).toEqual(["dispatched", "in_progress", "in_progress", "completed"]);
  });

  it("ignores a report from a node that does not own the job", async () => {
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    const r = await parts.jobs.applyUpdate("n2", { jobId: job.id, status: "completed", lines: [], exitCode: 0, error: "", result: undefined });
    expect(r).toBeUndefined();
    expect(store.rows.get(job.id)?.status).toBe("queued");
  });

  it("times out a job past its deadline and tells the agent to stop it", async () => {
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1), timeoutMs: 1000 });
    await parts.jobs.applyUpdate("n1", { jobId: job.id, status: "in_progress", lines: [], exitCode: 0, error: "", result: undefined });
    clock.advance(1000);
    await parts.jobs.tick();
    expect(store.rows.get(job.id)?.status).toBe("timed_out");
    expect(s.sent.at(-1)).toEqual({ kind: "cancel", jobId: job.id, reason: "timed out" });
  });

  it("cancels an unfinished job and refuses to cancel a finished one", async () => {
    const s = new RecordingSession("n1");
    parts.sessions.attach(s);
    const job = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    const cancelled = await parts.jobs.cancel(job.id, "user asked");
    expect(cancelled.status).toBe("cancelled");
    expect(s.sent.at(-1)).toMatchObject({ kind: "cancel", jobId: job.id });
    await expect(parts.jobs.cancel(job.id, "again")).rejects.toThrow(/already finished/);
    await expect(parts.jobs.cancel("nope", "")).rejects.toThrow(/not found/);
  });

  it("hands a node without a session its jobs on pull, dispatched once, until it acknowledges them", async () => {
    const evict = await parts.jobs.submit({ nodeId: "n1", payload: { type: "evict_chunk", chunkId: "c1" } });
    await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) });
    const types = new Set(["evict_chunk"] as const);
    expect((await parts.jobs.pull("n1", types)).map((j) => [j.id, j.status, j.attempts])).toEqual([[evict.id, "dispatched", 1]]);
    expect((await parts.jobs.pull("n1", types)).map((j) => j.attempts)).toEqual([1]);
    await expect(parts.jobs.acknowledge("n2", evict.id, true, "")).rejects.toThrow(/not found/);
    expect((await parts.jobs.acknowledge("n1", evict.id, false, "disk full")).error).toBe("disk full");
    expect(await parts.jobs.pull("n1", types)).toEqual([]);
    expect(parts.jobs.unfinished(new Set(["deploy_compose"]))).toHaveLength(1);
  });
});

describe("job lifecycle within a transaction", () => {
  it("writes a job for a connected node once, dispatched, and sends it only after the commit", async () => {
    const uow = memoryStores();
    const store = uow.jobs;
    const parts = await startJobParts(store, new ManualClock());
    const agent = new RecordingSession("n1");
    parts.sessions.attach(agent);
    const seenInside: unknown[] = [];
    const job = await uow.transaction(async (tx) => {
      const j = await parts.jobs.submit({ nodeId: "n1", payload: deploy(1) }, tx);
      seenInside.push(agent.commandIds(), parts.seen.length, parts.jobs.unfinished(new Set(["deploy_compose"])).length);
      return j;
    });
    expect(seenInside).toEqual([[], 0, 0]);
    expect([job.status, job.attempts, agent.commandIds(), store.writes]).toEqual(["dispatched", 1, [job.id], 1]);
    expect(parts.seen.map((e) => e.job.status)).toEqual(["dispatched"]);
    parts.stop();
  });

  it("writes a job for an absent node queued, and delivers it when the node connects", async () => {
    const uow = memoryStores();
    const store = uow.jobs;
    const parts = await startJobParts(store, new ManualClock());
    const job = await uow.transaction((tx) => parts.jobs.submit({ nodeId: "n1", payload: deploy(1) }, tx));
    expect([job.status, store.writes]).toEqual(["queued", 1]);
    const agent = new RecordingSession("n1");
    parts.sessions.attach(agent);
    await new Promise((r) => setTimeout(r, 10));
    expect(agent.commandIds()).toEqual([job.id]);
    parts.stop();
  });
});
