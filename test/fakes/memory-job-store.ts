import type { Job } from "../../src/model/job.js";
import type { JobFilter, JobStore } from "../../src/model/job-store.js";

/** An in-memory JobStore for unit tests. */
export class MemoryJobStore implements JobStore {
  readonly rows = new Map<string, Job>();
  writes = 0;

  async create(job: Job): Promise<void> {
    if (this.rows.has(job.id)) throw new Error(`duplicate job ${job.id}`);
    this.writes++;
    this.rows.set(job.id, structuredClone(job));
  }

  async save(job: Job): Promise<void> {
    this.writes++;
    this.rows.set(job.id, structuredClone(job));
  }

  async get(id: string): Promise<Job | undefined> {
    const row = this.rows.get(id);
    return row && structuredClone(row);
  }

  async list(f: JobFilter): Promise<Job[]> {
    const rows = [...this.rows.values()].filter(
      (j) =>
        (!f.nodeId || j.nodeId === f.nodeId) &&
        (!f.deploymentId || j.deploymentId === f.deploymentId) &&
        (!f.statuses || f.statuses.includes(j.status)) &&
        (!f.types || f.types.includes(j.type)),
    );
    rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    if (f.newestFirst) rows.reverse();
    return rows.slice(0, f.limit ?? rows.length).map((j) => structuredClone(j));
  }
}
