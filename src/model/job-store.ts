import type { Job, JobStatus } from "./job.js";

/** Filters for listing jobs. */
export interface JobFilter {
  nodeId?: string;
  deploymentId?: string;
  serviceName?: string;
  replicaId?: string;
  statuses?: JobStatus[];
  types?: Job["type"][];
  /** Newest first when true (reads); oldest first otherwise (delivery order). */
  newestFirst?: boolean;
  limit?: number;
  /** Paging: only jobs created before this (newest first) or after it (oldest first). */
  cursor?: { createdAt: Date; id: string };
}

/** Durable storage of jobs, implemented by src/store with Prisma. */
export interface JobStore {
  create(job: Job): Promise<void>;
  /** Replaces the stored job (keyed by id). */
  save(job: Job): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  list(filter: JobFilter): Promise<Job[]>;
}
