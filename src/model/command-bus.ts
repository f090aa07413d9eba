import type { CommandPayload, Job } from "./job.js";
import type { Transaction } from "./unit-of-work.js";

/** A command to run on a node. */
export interface NewJob {
  nodeId: string;
  payload: CommandPayload;
  deploymentId?: string;
  serviceName?: string;
  replicaId?: string;
  /** Run time limit once dispatched; default by type; 0 means until stopped. */
  timeoutMs?: number;
}

/**
 * How the managers get work done on nodes: every command is a durable job.
 * The job lifecycle (src/managers/job-lifecycle.ts) implements it; callers
 * only see this.
 */
export interface CommandBus {
  /**
   * Stores a new job and sends it if its node is connected. Within tx the job
   * is written in that transaction (so it commits with what goes with it),
   * already dispatched if its node is connected now, and is sent only once
   * the transaction has committed.
   */
  submit(input: NewJob, tx?: Transaction): Promise<Job>;
  get(jobId: string): Promise<Job>;
  /** Cancels an unfinished job (it is not redelivered); FailedPrecondition when it already finished. */
  cancel(jobId: string, reason: string): Promise<Job>;
  /**
   * Called after every persisted change of any job: this replica's own
   * (remote false) and, from the change feed, other replicas' (remote true).
   */
  onJobChange(listener: (job: Job, remote: boolean) => void): () => void;
  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean;
}
