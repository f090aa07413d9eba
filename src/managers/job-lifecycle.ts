import type { Logger } from "pino";
import { FailedPreconditionError, NotFoundError, NotLeaderError, StoreUnavailableError } from "../model/errors.js";
import type { Leadership } from "../model/leadership.js";
import { appendBounded, canTransition, TERMINAL, type Job, type JobStatus, type JobUpdate } from "../model/job.js";
import { deliveredTo, newJob } from "../model/job-dispatch.js";
import type { NewJob } from "../model/command-bus.js";
import type { DeliveryTarget, DispatchLedger, JobDelivery } from "../model/job-delivery.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { JobFilter, JobStore } from "../model/job-store.js";
import type { Transaction } from "../model/unit-of-work.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { JobState } from "../state/job-state.js";
import type { JobEvents } from "./job-events.js";

/** Job lifecycle settings. */
export interface JobLifecycleOptions {
  /** Bound on a job's stored log tail, in characters. */
  maxLogChars: number;
  /**
   * Deadlines are enforced only while this replica leads, each timeout a
   * fenced decision; absent, always (one process, tests).
   */
  leadership?: Leadership;
  now?: () => Date;
}

/**
 * Commands as durable jobs, from submission to their end: persisted before
 * anything is sent, moved through their states by deliveries, agents'
 * reports, pulls and acknowledgements, cancelled on request, and timed out
 * past their deadline. Every change is one write, then announced on
 * JobEvents. Sending to live sessions is JobDelivery's part: the lifecycle
 * asks it to deliver on submit and to tell agents to stop, and it records
 * each delivery here (DispatchLedger).
 */
export class JobLifecycleManager implements JobLifecycle, DispatchLedger {
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;
  /** Jobs being submitted, not yet written: their first write creates them. */
  private readonly fresh = new Map<string, Job>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly state: JobState,
    private readonly delivery: JobDelivery,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly options: JobLifecycleOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Loads unfinished jobs and starts checking deadlines. */
  async start(): Promise<void> {
    this.state.load(await this.store.list({ statuses: ["queued", "dispatched", "in_progress"] }));
    this.timer = setInterval(() => void this.tick(), 1000);
    this.timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Persists a new job and delivers it if its node is connected, in one
   * write: a job its node can take at once is created dispatched. Within a
   * transaction the job is written with the rest of it (dispatched if its
   * node is connected now) and sent once it commits.
   */
  async submit(input: NewJob, tx?: Transaction): Promise<Job> {
    const job = newJob(input, this.now());
    if (tx) {
      // Written as its delivery will leave it, so the transaction holds its one write; sent after the commit.
      const target = this.delivery.target(job.nodeId);
      const recorded = target ? deliveredTo(job, target, this.now()) : job;
      await tx.jobs.create(recorded);
      tx.onCommit(() => this.admitCommitted(recorded, target?.supports(job.type) === true));
      return recorded;
    }
    this.fresh.set(job.id, job);
    try {
      const delivered = await this.delivery.deliver(job);
      if (delivered) return delivered;
      await this.lock.run(`job:${job.id}`, () => this.persist(this.fresh.get(job.id) ?? job, []));
    } finally {
      this.fresh.delete(job.id);
    }
    // The node may have connected while the job was written, after its redelivery looked.
    return (await this.delivery.deliver(job)) ?? job;
  }

  /** Called after every persisted change of any job, this replica's and (remote) other replicas'. */
  onJobChange(listener: (job: Job, remote: boolean) => void): () => void {
    return this.events.onAny((e) => listener(e.job, e.remote === true));
  }

  /**
   * Another replica changed a job (read from the change feed): the view
   * follows the store and the change is announced as remote. Returns the job
   * when it waits for a node whose agent is connected here, for the caller
   * to deliver (deliverQueued) once the rest of its batch is applied.
   * A state older than the one held (a late read) is ignored.
   */
  applyRemote(jobId: string, job: Job | undefined): Job | undefined {
    const known = this.state.get(jobId);
    if (!job) {
      this.state.remove(jobId);
      return undefined;
    }
    if (known && known.updatedAt.getTime() > job.updatedAt.getTime()) return undefined;
    if (TERMINAL.has(job.status)) this.state.remove(jobId);
    else this.state.put(job);
    if (!known || known.status !== job.status || known.logs !== job.logs || known.attempts !== job.attempts) this.events.emit({ job, lines: [], remote: true });
    return job.status === "queued" && this.delivery.isConnected(job.nodeId) ? job : undefined;
  }

  /** Delivers a job another replica queued for a node connected here; it stays queued if that fails. */
  async deliverQueued(job: Job): Promise<void> {
    try {
      await this.delivery.deliver(job);
    } catch (err) {
      this.logger.error({ err, jobId: job.id, nodeId: job.nodeId }, "delivery failed");
    }
  }

  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean {
    return this.delivery.isConnected(nodeId);
  }

  /** Reads a job, finished or not. */
  async get(jobId: string): Promise<Job> {
    const job = this.state.get(jobId) ?? (await this.store.get(jobId));
    if (!job) throw new NotFoundError("job", jobId);
    return job;
  }

  /**
   * Lists jobs from the store. While the store is unavailable, a filter that
   * asks for unfinished jobs only is answered from memory, which holds them all.
   */
  async list(filter: JobFilter): Promise<Job[]> {
    try {
      return await this.store.list(filter);
    } catch (err) {
      const unfinishedOnly = filter.statuses !== undefined && filter.statuses.length > 0 && filter.statuses.every((s) => !TERMINAL.has(s));
      if (err instanceof StoreUnavailableError && unfinishedOnly) return this.state.query(filter);
      throw err;
    }
  }

  /** Unfinished jobs matching the filter, from memory (never waits on the store). */
  listUnfinished(filter: JobFilter): Job[] {
    return this.state.query(filter);
  }

  /** Cancels an unfinished job and tells its agent to stop it. */
  async cancel(jobId: string, reason: string): Promise<Job> {
    await this.get(jobId);
    return this.lock.run(`job:${jobId}`, async () => {
      const job = this.state.get(jobId);
      if (!job) {
        const finished = await this.get(jobId);
        throw new FailedPreconditionError(`job "${jobId}" has already finished (${finished.status})`);
      }
      const done = await this.finish(job, "cancelled", { error: reason || "cancelled" });
      this.delivery.cancel(job, reason);
      return done;
    });
  }

  /** Applies an agent's report; see JobLifecycle.applyUpdate. */
  async applyUpdate(nodeId: string, update: JobUpdate): Promise<Job | undefined> {
    return this.lock.run(`job:${update.jobId}`, async () => {
      const job = this.state.get(update.jobId);
      if (!job || job.nodeId !== nodeId || !canTransition(job.status, update.status)) {
        this.logger.debug({ nodeId, jobId: update.jobId, status: update.status, known: Boolean(job) }, "job update ignored");
        return undefined;
      }
      const now = this.now();
      const text = update.lines.map((l) => `${l.text}\n`).join("");
      const next: Job = {
        ...job,
        status: update.status,
        logs: text ? appendBounded(job.logs, text, this.options.maxLogChars) : job.logs,
        error: update.error || job.error,
        exitCode: update.exitCode || job.exitCode,
        result: update.result ?? job.result,
        startedAt: job.startedAt ?? now,
        finishedAt: TERMINAL.has(update.status) ? now : undefined,
        updatedAt: now,
      };
      return this.persist(next, update.lines);
    });
  }

  /** The pull path; see JobLifecycle.pull. */
  async pull(nodeId: string, types: ReadonlySet<Job["type"]>): Promise<Job[]> {
    const out: Job[] = [];
    for (const job of this.state.forNode(nodeId)) {
      if (!types.has(job.type)) continue;
      if (job.status !== "queued") {
        out.push(job);
        continue;
      }
      const now = this.now();
      out.push(
        await this.lock.run(`job:${job.id}`, async () => {
          const latest = this.state.get(job.id) ?? job;
          if (latest.status !== "queued") return latest;
          return this.persist({ ...latest, status: "dispatched", attempts: latest.attempts + 1, dispatchedAt: now, updatedAt: now, deadline: latest.timeoutMs > 0 ? new Date(now.getTime() + latest.timeoutMs) : undefined }, []);
        }),
      );
    }
    return out;
  }

  /** The node's acknowledgement of a pulled job: done, or failed with a reason. */
  async acknowledge(nodeId: string, jobId: string, ok: boolean, error: string): Promise<Job> {
    const job = await this.get(jobId);
    if (job.nodeId !== nodeId) throw new NotFoundError("command", jobId);
    if (TERMINAL.has(job.status)) return job;
    const done = await this.applyUpdate(nodeId, { jobId, status: ok ? "completed" : "failed", lines: [], exitCode: ok ? 0 : 1, error, result: undefined });
    return done ?? job;
  }

  /** Unfinished jobs of these types (e.g. chunk commands under way). */
  unfinished(types: ReadonlySet<Job["type"]>): Job[] {
    return [...this.state.all()].filter((j) => types.has(j.type));
  }

  /** A node's unfinished jobs, oldest first. */
  forNode(nodeId: string): Job[] {
    return this.state.forNode(nodeId);
  }

  /** Every unfinished job. */
  pending(): Job[] {
    return [...this.state.all()];
  }

  /** Records a delivery and sends under the job's lock; see DispatchLedger.recordDispatch. */
  recordDispatch(jobId: string, target: DeliveryTarget, send: (job: Job) => void): Promise<Job | undefined> {
    return this.lock.run(`job:${jobId}`, async () => {
      const job = this.state.get(jobId) ?? this.fresh.get(jobId);
      if (!job) return this.store.get(jobId);
      const next = deliveredTo(job, target, this.now());
      const saved = await this.persist(next, []);
      if (target.supports(job.type)) send(saved);
      return saved;
    });
  }

  /** Fails a job still dispatched after its last unacknowledged delivery. */
  failUnacknowledged(jobId: string): Promise<void> {
    return this.lock.run(`job:${jobId}`, async () => {
      const latest = this.state.get(jobId);
      if (latest?.status === "dispatched") {
        await this.finish(latest, "failed", { error: `not acknowledged after ${latest.attempts} deliveries` });
      }
    });
  }

  /** Times out jobs past their deadline and tells their agents to stop them. */
  async tick(): Promise<void> {
    const leadership = this.options.leadership;
    if (leadership && !leadership.isLeader()) return;
    const now = this.now().getTime();
    for (const job of [...this.state.all()]) {
      if (!job.deadline || job.deadline.getTime() > now) continue;
      try {
        await this.lock.run(`job:${job.id}`, async () => {
          const latest = this.state.get(job.id);
          if (!latest) return;
          const timedOut = { ...latest, error: `did not finish within ${latest.timeoutMs} ms`, status: "timed_out" as const, finishedAt: this.now(), updatedAt: this.now() };
          if (leadership) {
            // A fenced decision: written only while this replica still leads; the view follows the commit.
            await leadership.decisions.transaction(async (tx) => {
              await tx.jobs.save(timedOut);
              tx.onCommit(() => void this.settle(timedOut, []));
            });
          } else {
            await this.persist(timedOut, []);
          }
          this.delivery.cancel(latest, "timed out");
        });
      } catch (err) {
        if (err instanceof NotLeaderError) return;
        this.logger.error({ err, jobId: job.id }, "job timeout handling failed");
      }
    }
  }

  /**
   * After the transaction that wrote it: the job joins the view, is
   * announced, and goes to its node (sent as recorded, or delivered now if
   * it was written queued).
   */
  private async admitCommitted(job: Job, recorded: boolean): Promise<void> {
    if (!TERMINAL.has(job.status)) this.state.put(job);
    this.events.emit({ job, lines: [] });
    try {
      if (recorded) await this.delivery.sendRecorded(job);
      else if (!TERMINAL.has(job.status)) await this.delivery.deliver(job);
    } catch (err) {
      // It stays queued and goes out when its node next connects.
      this.logger.error({ err, jobId: job.id, nodeId: job.nodeId }, "delivery failed");
    }
  }

  /** Moves a job to a final status. */
  private async finish(job: Job, status: JobStatus, patch: Partial<Job>): Promise<Job> {
    const now = this.now();
    return this.persist({ ...job, ...patch, status, finishedAt: now, updatedAt: now }, []);
  }

  /** One write of a job's new state (the first one creates it), then the view and the announcement. */
  private async persist(job: Job, lines: JobUpdate["lines"]): Promise<Job> {
    if (this.fresh.has(job.id)) {
      await this.store.create(job);
      this.fresh.delete(job.id);
    } else {
      await this.store.save(job);
    }
    return this.settle(job, lines);
  }

  /** After a job's write: the view and the announcement. */
  private settle(job: Job, lines: JobUpdate["lines"]): Job {
    if (TERMINAL.has(job.status)) this.state.remove(job.id);
    else this.state.put(job);
    this.events.emit({ job, lines });
    return job;
  }
}
