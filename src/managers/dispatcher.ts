import type { Logger } from "pino";
import { FailedPreconditionError, NotFoundError, StoreUnavailableError } from "../model/errors.js";
import { newTimeOrderedId } from "../model/ids.js";
import {
  appendBounded,
  canTransition,
  DEFAULT_TIMEOUT_MS,
  TERMINAL,
  type Job,
  type JobStatus,
  type JobUpdate,
} from "../model/job.js";
import type { CommandBus, NewJob } from "../model/command-bus.js";
import type { JobFilter, JobStore } from "../model/job-store.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { JobState } from "../state/job-state.js";
import type { JobEvents } from "./job-events.js";
import type { AgentSession, SessionDirectory } from "../model/agent-session.js";

/** Dispatcher settings. */
export interface DispatcherOptions {
  /** A dispatched job not acknowledged within this is sent again. */
  ackTimeoutMs: number;
  /** After this many deliveries without acknowledgement the job fails. */
  maxAttempts: number;
  /** Bound on a job's stored log tail, in characters. */
  maxLogChars: number;
  now?: () => Date;
}

/**
 * Commands as durable jobs: persisted QUEUED before anything is sent, pushed
 * down the node's live session in creation order, redelivered after a
 * reconnect or a missing acknowledgement (agents deduplicate by job id), and
 * timed out past their deadline. Every change is persisted, then announced on
 * JobEvents.
 */
export class Dispatcher implements CommandBus {
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly state: JobState,
    private readonly sessions: SessionDirectory,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Loads unfinished jobs, starts redelivering on reconnects and checking timeouts. */
  async start(): Promise<void> {
    this.state.load(await this.store.list({ statuses: ["queued", "dispatched", "in_progress"] }));
    this.unsubscribe = this.sessions.onAttach((session) => void this.redeliver(session));
    this.timer = setInterval(() => void this.tick(), Math.min(1000, this.options.ackTimeoutMs / 2));
    this.timer.unref();
  }

  /** Stops the timers. */
  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** Persists a new job and delivers it if its node is connected. */
  async submit(input: NewJob): Promise<Job> {
    const now = this.now();
    const job: Job = {
      id: newTimeOrderedId(now.getTime()),
      nodeId: input.nodeId,
      type: input.payload.type,
      status: "queued",
      payload: input.payload,
      deploymentId: input.deploymentId ?? "",
      serviceName: input.serviceName ?? "",
      replicaId: input.replicaId ?? "",
      logs: "",
      error: "",
      exitCode: 0,
      result: undefined,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      dispatchedAt: undefined,
      startedAt: undefined,
      finishedAt: undefined,
      timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS[input.payload.type],
      deadline: undefined,
    };
    await this.store.create(job);
    this.state.put(job);
    this.events.emit({ job, lines: [] });
    const session = this.sessions.get(job.nodeId);
    if (!session) return job;
    return this.lock.run(job.nodeId, () => this.deliver(job.id, session));
  }

  /** Called after every persisted change of any job. */
  onJobChange(listener: (job: Job) => void): () => void {
    return this.events.onAny((e) => listener(e.job));
  }

  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean {
    return this.sessions.isConnected(nodeId);
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
      this.sessions.get(job.nodeId)?.send({ kind: "cancel", jobId, reason });
      return done;
    });
  }

  /**
   * Applies an agent's report. Reports for another node's job, unknown jobs
   * and finished jobs change nothing (a redelivered job's final report may
   * arrive twice).
   */
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

  /**
   * The pull path (seed 004's GET /api/v1/nodes/{id}/commands): the node's
   * unfinished jobs of these types, oldest first; queued ones become
   * dispatched. They come back on every pull until acknowledged.
   */
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

  /** Sends every unfinished job of a newly connected node, oldest first. */
  private async redeliver(session: AgentSession): Promise<void> {
    await this.lock.run(session.nodeId, async () => {
      for (const job of this.state.forNode(session.nodeId)) {
        if (this.sessions.get(session.nodeId) !== session) return;
        await this.deliver(job.id, session).catch((err: unknown) =>
          this.logger.error({ err, jobId: job.id, nodeId: job.nodeId }, "redelivery failed"),
        );
      }
    });
  }

  /**
   * Marks a job dispatched (persisted) and sends it. The caller holds the
   * node's lock (delivery order); the job's own lock keeps a racing agent
   * report from being overwritten.
   */
  private deliver(jobId: string, session: AgentSession): Promise<Job> {
    return this.lock.run(`job:${jobId}`, () => this.deliverLocked(jobId, session));
  }

  private async deliverLocked(jobId: string, session: AgentSession): Promise<Job> {
    const job = this.state.get(jobId);
    if (!job) return (await this.store.get(jobId)) as Job;
    if (!session.supports(job.type)) {
      return this.finish(job, "failed", { error: `the agent on node ${job.nodeId} (${session.protocol}) cannot run ${job.type} commands` });
    }
    const now = this.now();
    const first = job.dispatchedAt === undefined;
    // Agents that never acknowledge (seed 003) are taken at their word on receipt.
    const status: JobStatus = session.acknowledges
      ? job.status === "in_progress" ? "in_progress" : "dispatched"
      : job.type === "launch_replica" ? "in_progress" : "completed";
    const next: Job = {
      ...job,
      status,
      attempts: job.attempts + 1,
      dispatchedAt: now,
      deadline: first && job.timeoutMs > 0 ? new Date(now.getTime() + job.timeoutMs) : job.deadline,
      startedAt: status !== "dispatched" ? (job.startedAt ?? now) : job.startedAt,
      finishedAt: TERMINAL.has(status) ? now : undefined,
      updatedAt: now,
    };
    const saved = await this.persist(next, []);
    session.send({ kind: "command", job: saved });
    return saved;
  }

  /** Moves a job to a final status. */
  private async finish(job: Job, status: JobStatus, patch: Partial<Job>): Promise<Job> {
    const now = this.now();
    return this.persist({ ...job, ...patch, status, finishedAt: now, updatedAt: now }, []);
  }

  private async persist(job: Job, lines: JobUpdate["lines"]): Promise<Job> {
    await this.store.save(job);
    if (TERMINAL.has(job.status)) this.state.remove(job.id);
    else this.state.put(job);
    this.events.emit({ job, lines });
    return job;
  }

  /** Redelivers unacknowledged jobs and times out jobs past their deadline. */
  async tick(): Promise<void> {
    const now = this.now().getTime();
    for (const job of [...this.state.all()]) {
      try {
        if (job.deadline && job.deadline.getTime() <= now) {
          await this.lock.run(`job:${job.id}`, async () => {
            const latest = this.state.get(job.id);
            if (!latest) return;
            await this.finish(latest, "timed_out", { error: `did not finish within ${latest.timeoutMs} ms` });
            this.sessions.get(latest.nodeId)?.send({ kind: "cancel", jobId: latest.id, reason: "timed out" });
          });
          continue;
        }
        const session = this.sessions.get(job.nodeId);
        const unacked = job.status === "dispatched" && now - (job.dispatchedAt?.getTime() ?? now) >= this.options.ackTimeoutMs;
        if (!session || !unacked) continue;
        if (job.attempts >= this.options.maxAttempts) {
          await this.lock.run(`job:${job.id}`, async () => {
            const latest = this.state.get(job.id);
            if (latest?.status === "dispatched") {
              await this.finish(latest, "failed", { error: `not acknowledged after ${latest.attempts} deliveries` });
            }
          });
        } else {
          await this.lock.run(job.nodeId, () => this.deliver(job.id, session));
        }
      } catch (err) {
        this.logger.error({ err, jobId: job.id }, "job timeout handling failed");
      }
    }
  }
}
