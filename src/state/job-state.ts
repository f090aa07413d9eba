import type { Job } from "../model/job.js";

/**
 * The in-memory view of unfinished jobs (queued, dispatched, in progress):
 * what redelivery, acknowledgement timeouts and deadlines work from without a
 * database read. Finished jobs leave it; reads of them go to the store.
 */
export class JobState {
  private readonly jobs = new Map<string, Job>();
  private readonly byNode = new Map<string, Set<string>>();

  /** Replaces the view, e.g. with the unfinished jobs in the store at start-up. */
  load(jobs: Iterable<Job>): void {
    this.jobs.clear();
    this.byNode.clear();
    for (const job of jobs) this.put(job);
  }

  /** The unfinished job with this id, if any. */
  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Adds or replaces an unfinished job. */
  put(job: Job): void {
    this.jobs.set(job.id, job);
    let ids = this.byNode.get(job.nodeId);
    if (!ids) this.byNode.set(job.nodeId, (ids = new Set()));
    ids.add(job.id);
  }

  /** Drops a job, e.g. when it finishes. */
  remove(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.jobs.delete(id);
    const ids = this.byNode.get(job.nodeId);
    ids?.delete(id);
    if (ids?.size === 0) this.byNode.delete(job.nodeId);
  }

  /** A node's unfinished jobs, oldest first (delivery order). */
  forNode(nodeId: string): Job[] {
    const ids = this.byNode.get(nodeId);
    if (!ids) return [];
    return [...ids]
      .map((id) => this.jobs.get(id) as Job)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  /** Every unfinished job. */
  all(): IterableIterator<Job> {
    return this.jobs.values();
  }

  /** How many unfinished jobs there are. */
  get size(): number {
    return this.jobs.size;
  }
}
