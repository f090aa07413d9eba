import type { Logger } from "pino";
import type { CommandBus } from "../model/command-bus.js";
import { FailedPreconditionError, NotFoundError } from "../model/errors.js";
import { newTimeOrderedId } from "../model/ids.js";
import type { Job } from "../model/job.js";
import type { Leadership } from "../model/leadership.js";
import type { ServiceSpec } from "../model/service-spec.js";
import { TASK_DONE, taskStatusOf, type Task, type TaskFilter, type TaskKind, type TaskStore } from "../model/task.js";
import type { UnitOfWork } from "../model/unit-of-work.js";
import { placeTask } from "../orchestrator/place-task.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { KeyedLock } from "../shared/keyed-lock.js";

/** Task settings. */
export interface TaskManagerOptions {
  /** A task's run time limit when the caller gives none. */
  defaultTimeoutMs: number;
  /** Finished tasks kept per service and kind (the history). */
  keep: number;
  /**
   * Several replicas: the leader settles, every `settleIntervalMs` (default
   * 5 s), tasks whose job ended without the task following (the replica that
   * took the job's report died before writing the task).
   */
  leadership?: Leadership;
  settleIntervalMs?: number;
  now?: () => Date;
}

/** What to run once. */
export interface TaskRequest {
  spec: ServiceSpec;
  kind: TaskKind;
  scheduledAt?: Date;
  specHash?: string;
  timeoutMs?: number;
  /** Only these nodes may run it (hooks.afterDeploy: a node that runs a replica). */
  only?: ReadonlySet<string>;
}

/**
 * One-off tasks: a service spec run once, to completion, as one RUN_TASK job
 * on the node the placer picks; the task follows its job (status, exit code;
 * logs are the job's). Scheduled runs and hooks.afterDeploy are tasks too.
 */
export class TaskManager {
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;
  /** Unfinished tasks by id, and the newest tasks per service and kind, for reads that must not wait on the store. */
  private readonly unfinished = new Map<string, Task>();
  private readonly recentByKey = new Map<string, Task[]>();
  private timer: NodeJS.Timeout | undefined;
  private settling: Promise<void> | undefined;

  constructor(
    private readonly stores: UnitOfWork & { readonly tasks: TaskStore },
    private readonly bus: CommandBus,
    private readonly snapshot: () => ClusterSnapshot,
    private readonly options: TaskManagerOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Loads unfinished tasks, settles those whose job ended while the server was down, and follows jobs. */
  async start(): Promise<void> {
    this.bus.onJobChange((job, remote) => {
      if (job.type === "run_task") void this.onJob(job, remote).catch((err: unknown) => this.logger.error({ err, jobId: job.id }, "task update failed"));
    });
    for (const t of await this.stores.tasks.list({ unfinished: true, limit: 10_000 })) {
      this.unfinished.set(t.id, t);
      const job = await this.bus.get(t.jobId).catch(() => undefined);
      if (job) await this.onJob(job);
    }
    const leadership = this.options.leadership;
    if (leadership) {
      this.timer = setInterval(() => {
        if (leadership.isLeader()) void this.settle();
      }, this.options.settleIntervalMs ?? 5_000);
      this.timer.unref();
    }
  }

  /** Stops settling; resolves once a pass under way is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.settling;
  }

  /**
   * Moves on every unfinished task (in the store) whose job's status says
   * otherwise: a task whose job's report was taken by a replica that died
   * before it wrote the task. Passes never overlap. Exposed for tests.
   */
  settle(): Promise<void> {
    this.settling ??= (async () => {
      for (const t of await this.stores.tasks.list({ unfinished: true, limit: 10_000 })) {
        const job = await this.bus.get(t.jobId).catch(() => undefined);
        if (job && taskStatusOf(job.status) !== t.status) await this.onJob(job);
      }
    })()
      .catch((err: unknown) => this.logger.warn({ err }, "settling tasks failed; the next pass tries again"))
      .finally(() => (this.settling = undefined));
    return this.settling;
  }

  /** Loads a service's recent tasks of a kind into memory (the service reads show them). */
  async loadRecent(serviceName: string, kind: TaskKind): Promise<void> {
    if (this.recentByKey.has(key(serviceName, kind))) return;
    this.recentByKey.set(key(serviceName, kind), await this.stores.tasks.list({ serviceName, kind, limit: this.options.keep }));
  }

  /** A service's newest tasks of a kind, from memory (newest first). */
  recent(serviceName: string, kind: TaskKind): readonly Task[] {
    return this.recentByKey.get(key(serviceName, kind)) ?? [];
  }

  /** How many of a service's tasks of a kind are pending or running. */
  active(serviceName: string, kind: TaskKind): number {
    let n = 0;
    for (const t of this.unfinished.values()) if (t.serviceName === serviceName && t.kind === kind) n++;
    return n;
  }

  /** Runs a spec once. A manual task no node can take is refused; others are recorded as skipped with the reason. */
  async run(req: TaskRequest): Promise<Task> {
    const now = this.now();
    const placed = placeTask(req.spec, this.snapshot(), req.only);
    const task: Task = {
      id: `task-${newTimeOrderedId(now.getTime())}`,
      serviceName: req.spec.name,
      kind: req.kind,
      status: "pending",
      jobId: "",
      nodeId: placed.nodeId ?? "",
      exitCode: 0,
      error: "",
      scheduledAt: req.scheduledAt,
      specHash: req.specHash ?? "",
      createdAt: now,
      finishedAt: undefined,
    };
    if (!placed.nodeId) {
      if (req.kind === "manual") throw new FailedPreconditionError(`no node can run the task: ${placed.reason}`);
      return this.record({ ...task, status: "skipped", error: `no node can run it: ${placed.reason}`, finishedAt: now });
    }
    const nodeId = placed.nodeId;
    // The task and its job commit together; the job's events wait on the task's lock until it is known.
    return this.lock.run(task.id, () =>
      this.stores.transaction(async (tx) => {
        const job = await this.bus.submit(
          { nodeId, serviceName: req.spec.name, payload: { type: "run_task", service: req.spec, taskId: task.id }, timeoutMs: req.timeoutMs || this.options.defaultTimeoutMs },
          tx,
        );
        const saved = followJob({ ...task, jobId: job.id }, job);
        await tx.tasks.save(saved);
        tx.onCommit(() => this.remember(saved));
        this.logger.info({ taskId: task.id, service: task.serviceName, kind: task.kind, nodeId, jobId: job.id }, "task started");
        return saved;
      }),
    );
  }

  /** Records a scheduled time that did not run, with why. */
  skip(spec: ServiceSpec, scheduledAt: Date, reason: string): Promise<Task> {
    const now = this.now();
    return this.record({
      id: `task-${newTimeOrderedId(now.getTime())}`, serviceName: spec.name, kind: "schedule", status: "skipped", jobId: "", nodeId: "",
      exitCode: 0, error: reason, scheduledAt, specHash: "", createdAt: now, finishedAt: now,
    });
  }

  /** A task with its logs (its job's). */
  async get(taskId: string): Promise<{ task: Task; logs: string }> {
    const task = this.unfinished.get(taskId) ?? (await this.stores.tasks.get(taskId));
    if (!task) throw new NotFoundError("task", taskId);
    const job = task.jobId ? await this.bus.get(task.jobId).catch(() => undefined) : undefined;
    return { task, logs: job?.logs ?? "" };
  }

  /** Tasks, newest first. */
  list(filter: TaskFilter): Promise<Task[]> {
    return this.stores.tasks.list(filter);
  }

  /** Cancels a pending or running task: its job is cancelled and its process stopped. */
  async cancel(taskId: string, reason: string): Promise<Task> {
    const { task } = await this.get(taskId);
    if (TASK_DONE.has(task.status)) throw new FailedPreconditionError(`task ${taskId} already ${task.status}`);
    const job = await this.bus.cancel(task.jobId, reason || "cancelled by request");
    await this.onJob(job);
    return (await this.get(taskId)).task;
  }

  /**
   * Moves a task on with its job. The replica that wrote the job's change
   * writes the task, also one another replica started (which may be gone:
   * its agent reported here after moving), read from the store; the other
   * replicas only follow in memory, so their reads of it stay current.
   */
  private onJob(job: Job, remote = false): Promise<void> {
    if (job.payload.type !== "run_task") return Promise.resolve();
    const taskId = job.payload.taskId;
    return this.lock.run(taskId, async () => {
      const task = this.unfinished.get(taskId) ?? (remote ? undefined : await this.stores.tasks.get(taskId));
      if (!task || TASK_DONE.has(task.status)) return;
      const next = followJob(task, job);
      if (next.status === task.status) return;
      if (remote) {
        this.remember(next);
        return;
      }
      await this.record(next);
      if (TASK_DONE.has(next.status)) {
        this.logger.info({ taskId, service: task.serviceName, status: next.status, exitCode: next.exitCode }, "task finished");
        await this.stores.tasks.prune(task.serviceName, task.kind, this.options.keep).catch((err: unknown) => this.logger.warn({ err }, "task history not pruned"));
      }
    });
  }

  private async record(t: Task): Promise<Task> {
    await this.stores.tasks.save(t);
    this.remember(t);
    return t;
  }

  private remember(t: Task): void {
    if (TASK_DONE.has(t.status)) this.unfinished.delete(t.id);
    else this.unfinished.set(t.id, t);
    const k = key(t.serviceName, t.kind);
    const list = (this.recentByKey.get(k) ?? []).filter((x) => x.id !== t.id);
    list.push(t);
    list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
    this.recentByKey.set(k, list.slice(0, this.options.keep));
  }
}

const key = (serviceName: string, kind: TaskKind) => `${kind}:${serviceName}`;

/** The task as its job leaves it. */
function followJob(task: Task, job: Job): Task {
  const status = taskStatusOf(job.status);
  const done = TASK_DONE.has(status);
  return {
    ...task,
    status,
    nodeId: job.nodeId,
    exitCode: job.exitCode,
    error: job.status === "timed_out" ? `timed out: ${job.error}` : job.error,
    finishedAt: done ? (job.finishedAt ?? new Date()) : undefined,
  };
}
