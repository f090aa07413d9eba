/**
 * Where one replica of a service runs and how it is doing.
 *   pending: launch job sent, not yet running;
 *   running: its launch job is in progress (the job is the process's life);
 *   stopping: a stop job was sent;
 *   stopped / failed: it ended; kept for history until replaced;
 *   lost: its node went offline past the grace period; a replacement runs elsewhere.
 */
export type ReplicaStatus = "pending" | "running" | "stopping" | "stopped" | "failed" | "lost";

/** One replica. */
export interface Replica {
  id: string;
  serviceName: string;
  nodeId: string;
  status: ReplicaStatus;
  /** The spec version it runs (a hash of the service spec). */
  specHash: string;
  /** The launch job. */
  jobId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Replicas that occupy (or are about to occupy) their node. */
export const ACTIVE: ReadonlySet<ReplicaStatus> = new Set(["pending", "running"]);
