import type { Logger } from "pino";
import type { CommandBus } from "../model/command-bus.js";
import { NotFoundError } from "../model/errors.js";
import type { Job } from "../model/job.js";
import type { Replica, ReplicaStatus } from "../model/replica.js";
import type { ServiceStore } from "../model/service-store.js";
import type { KeyedLock } from "../shared/keyed-lock.js";
import type { ServiceState } from "../state/service-state.js";

/** A replica's status for each state of its launch job that decides one. */
export const FROM_JOB: Partial<Record<Job["status"], ReplicaStatus>> = {
  in_progress: "running",
  completed: "stopped",
  failed: "failed",
  timed_out: "failed",
  cancelled: "stopped",
};

/**
 * What a launch job's state means for its replica. A launch whose agent
 * reports it is still in hooks.beforeStart (CommandUpdate.result's phase) is
 * not running yet: it stays pending, so it still counts as starting, and
 * neither an update's old replicas nor hooks.afterDeploy go on before it runs.
 */
export function launchStatus(job: Pick<Job, "status" | "result">): ReplicaStatus | undefined {
  if (job.status === "in_progress" && job.result?.phase === "before_start") return undefined;
  return FROM_JOB[job.status];
}

/** What the reconciler hears from the follower. */
export interface ReplicaStatusHooks {
  /** A launch job moved its replica to `status` (its backoff counts failures; anything but running asks for a pass). */
  launched(r: Replica, job: Job, status: ReplicaStatus): void;
  now: () => number;
}

/**
 * Follows the replicas' jobs into their statuses: a replica runs while its
 * launch job is in progress and ends with it; a stop job's completion stops
 * a replica being stopped. Every replica of the control plane sees every job
 * change (its own, and others' through the change feed) and writes what it
 * implies, so a replica's status moves on while the leader is away.
 */
export class ReplicaStatusFollower {
  /** Replica id → the job whose state its status is to be derived from again (retry()). */
  private readonly unwritten = new Map<string, string>();

  constructor(
    private readonly store: Pick<ServiceStore, "updateReplicaStatus">,
    private readonly state: ServiceState,
    private readonly bus: CommandBus,
    /** Shared with the reconciler: a replica's launch and its job's events, and every status write, one at a time. */
    private readonly lock: KeyedLock,
    private readonly hooks: ReplicaStatusHooks,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts following job changes. Every replica still starting, running or
   * being stopped has its status derived again from its launch job on the
   * first pass: a process killed between a job's write and its replica's (two
   * transactions) would otherwise leave the replica as it was for good.
   */
  follow(): void {
    this.bus.onJobChange((job) => {
      if (job.replicaId) void this.onJob(job).catch((err: unknown) => this.unsaved(job, err));
    });
    for (const r of this.state.replicas.values()) {
      if (r.jobId && (r.status === "pending" || r.status === "running" || r.status === "stopping")) this.unwritten.set(r.id, r.jobId);
    }
  }

  /**
   * Writes again the statuses whose writes failed (the store was away) or
   * that a restart may have missed (follow()), derived from each job as it is
   * now, so a replica is never left starting or running for good. The
   * reconciler calls it at the start of each pass.
   */
  async retry(): Promise<void> {
    for (const [replicaId, jobId] of [...this.unwritten]) {
      try {
        await this.onJob(await this.bus.get(jobId));
        this.unwritten.delete(replicaId);
      } catch (err) {
        // A job that is gone (collected with its replica) has nothing left to say.
        if (err instanceof NotFoundError) this.unwritten.delete(replicaId);
      }
    }
  }

  private unsaved(job: Job, err: unknown): void {
    if (!this.unwritten.has(job.replicaId)) this.logger.warn({ err, jobId: job.id, replicaId: job.replicaId }, "replica status update failed; retrying on the next pass");
    this.unwritten.set(job.replicaId, job.id);
  }

  private onJob(job: Job): Promise<void> {
    // Job events and the pass that created the replica both write it: one at a time.
    return this.lock.run(job.replicaId, () => this.onJobLocked(job));
  }

  private async onJobLocked(job: Job): Promise<void> {
    const r = this.state.replicas.get(job.replicaId);
    if (!r) return;
    if (job.type === "launch_replica") {
      const status = launchStatus(job);
      // A lost replica stays lost until the node is back and it is stopped.
      if (!status || r.status === "lost" || (r.jobId !== "" && r.jobId !== job.id)) return;
      if (status !== r.status && !(r.status === "stopping" && status === "running")) await this.setStatus(r.id, status);
      this.hooks.launched(r, job, status);
    } else if (job.type === "stop_replica" && job.status === "completed" && r.status === "stopping") {
      // A replica that had already ended (an orphan's stop: it failed here while its process ran on) keeps its status.
      await this.setStatus(r.id, "stopped");
    }
  }

  /**
   * A compare-and-set from the status this view holds: a view that is behind
   * (a replica resuming after a pause) can neither overwrite a later decision
   * (stopping, lost) nor bring back a replica that was collected. When it
   * does not apply, the change feed brings this view the row as it is.
   */
  private setStatus(id: string, status: ReplicaStatus): Promise<void> {
    return this.lock.run(`status:${id}`, async () => {
      const r = this.state.replicas.get(id);
      if (!r || r.status === status) return;
      const next: Replica = { ...r, status, updatedAt: new Date(this.hooks.now()) };
      if (await this.store.updateReplicaStatus(id, r.status, status, next.updatedAt)) this.state.replicas.set(id, next);
    });
  }
}
