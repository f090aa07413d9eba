import type { Job } from "../model/job.js";
import type { JobFilter } from "../model/job-store.js";

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

  /**
   * The unfinished jobs matching a filter, ordered and paged as the store
   * orders them: by (created at, id), newest first when asked.
   */
  query(filter: JobFilter): Job[] {
    const dir = filter.newestFirst ? -1 : 1;
    const c = filter.cursor;
    const out = [...this.jobs.values()]
      .filter(
        (j) =>
          (filter.nodeId === undefined || j.nodeId === filter.nodeId) &&
          (filter.deploymentId === undefined || j.deploymentId === filter.deploymentId) &&
          (filter.serviceName === undefined || j.serviceName === filter.serviceName) &&
          (filter.replicaId === undefined || j.replicaId === filter.replicaId) &&
          (filter.statuses === undefined || filter.statuses.includes(j.status)) &&
          (filter.types === undefined || filter.types.includes(j.type)) &&
          (c === undefined || dir * compare(j, c) > 0),
      )
      .sort((a, b) => dir * compare(a, b));
    return filter.limit === undefined ? out : out.slice(0, filter.limit);
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

function compare(a: { createdAt: Date; id: string }, b: { createdAt: Date; id: string }): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
