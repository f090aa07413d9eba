import type { Job, JobUpdate } from "../model/job.js";

/** One change of a job: its new state and the log lines that came with it. */
export interface JobEvent {
  job: Job;
  lines: JobUpdate["lines"];
  /** Written by another replica and read from the change feed (its log lines are in job.logs only). */
  remote?: boolean;
}

type Listener = (event: JobEvent) => void;

/**
 * In-process fan-out of job changes, for WatchJob streams and for the parts of
 * the system that act when a job finishes (deployments, replicas, chunks).
 */
export class JobEvents {
  private readonly byJob = new Map<string, Set<Listener>>();
  private readonly all = new Set<Listener>();

  /** Announces a change. */
  emit(event: JobEvent): void {
    for (const listener of this.all) listener(event);
    const set = this.byJob.get(event.job.id);
    if (set) for (const listener of set) listener(event);
  }

  /** Listens to every job; returns the unsubscribe function. */
  onAny(listener: Listener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  /** Listens to one job; returns the unsubscribe function. */
  onJob(jobId: string, listener: Listener): () => void {
    let set = this.byJob.get(jobId);
    if (!set) this.byJob.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byJob.delete(jobId);
    };
  }
}
