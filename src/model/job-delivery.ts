import type { AgentSession } from "./agent-session.js";
import type { Job } from "./job.js";

/** What the lifecycle needs to know of the agent a job is being delivered to. */
export type DeliveryTarget = Pick<AgentSession, "protocol" | "acknowledges" | "supports">;

/**
 * Delivery of jobs to live agent sessions, as the job lifecycle calls it.
 * Implemented by src/sessions/job-delivery.ts.
 */
export interface JobDelivery {
  /**
   * Sends the job down its node's live session, recording the dispatch
   * through the ledger first. Resolves with the job as recorded, or
   * undefined when the node has no live session (the job waits for it).
   */
  deliver(job: Job): Promise<Job | undefined>;
  /** The node's live session as the lifecycle needs to know it, if there is one. */
  target(nodeId: string): DeliveryTarget | undefined;
  /**
   * Sends a job whose dispatch is already recorded (written dispatched in a
   * transaction that has committed), in order with the node's other
   * deliveries; if the node has no live session it goes at the next attach
   * or acknowledgement timeout, like any unacknowledged job.
   */
  sendRecorded(job: Job): Promise<void>;
  /** Tells the job's agent to stop it (it was cancelled or timed out), if the agent is connected. */
  cancel(job: Job, reason: string): void;
  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean;
}

/**
 * The lifecycle as delivery calls it: which jobs wait, and the record of each
 * delivery. Implemented by src/managers/job-lifecycle.ts.
 */
export interface DispatchLedger {
  /** A node's unfinished jobs, oldest first (delivery order). */
  forNode(nodeId: string): Job[];
  /** Every unfinished job. */
  pending(): Job[];
  /**
   * Records that the job is being sent to target (dispatched; failed when the
   * agent cannot run it; taken at its word when it never acknowledges), then
   * calls send with the recorded job, under the job's lock so that no other
   * change (a cancel, an agent's report) comes between the write and the
   * send. A job that has already finished is returned as stored, unsent.
   */
  recordDispatch(jobId: string, target: DeliveryTarget, send: (job: Job) => void): Promise<Job | undefined>;
  /** Fails a job still dispatched after its last unacknowledged delivery. */
  failUnacknowledged(jobId: string): Promise<void>;
}
