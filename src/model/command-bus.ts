import type { CommandPayload, Job } from "./job.js";

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
 * How the domain gets work done on nodes: every command is a durable job. The
 * agents layer implements it (Dispatcher); the domain only sees this.
 */
export interface CommandBus {
  submit(input: NewJob): Promise<Job>;
  get(jobId: string): Promise<Job>;
  /** Called after every persisted change of any job. */
  onJobChange(listener: (job: Job) => void): () => void;
  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean;
}
