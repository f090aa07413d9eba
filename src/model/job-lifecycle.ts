import type { CommandBus } from "./command-bus.js";
import type { Job, JobUpdate } from "./job.js";
import type { JobFilter } from "./job-store.js";

/**
 * Jobs from submission to their end, as every user of jobs sees them: the
 * command bus, reads, cancellation, agents' reports, and the pull path of
 * nodes without a live session. Implemented by src/managers/job-lifecycle.ts.
 */
export interface JobLifecycle extends CommandBus {
  /** Lists jobs from the store (unfinished ones from memory while the store is unavailable). */
  list(filter: JobFilter): Promise<Job[]>;
  /** Unfinished jobs matching the filter, from memory (never waits on the store). */
  listUnfinished(filter: JobFilter): Job[];
  /** Cancels an unfinished job and tells its agent to stop it. */
  cancel(jobId: string, reason: string): Promise<Job>;
  /**
   * Applies an agent's report. Reports for another node's job, unknown jobs
   * and finished jobs change nothing (a redelivered job's final report may
   * arrive twice); then the result is undefined.
   */
  applyUpdate(nodeId: string, update: JobUpdate): Promise<Job | undefined>;
  /**
   * The pull path (seed 004's GET /api/v1/nodes/{id}/commands): the node's
   * unfinished jobs of these types, oldest first; queued ones become
   * dispatched. They come back on every pull until acknowledged.
   */
  pull(nodeId: string, types: ReadonlySet<Job["type"]>): Promise<Job[]>;
  /** The node's acknowledgement of a pulled job: done, or failed with a reason. */
  acknowledge(nodeId: string, jobId: string, ok: boolean, error: string): Promise<Job>;
  /** Unfinished jobs of these types (e.g. chunk commands under way). */
  unfinished(types: ReadonlySet<Job["type"]>): Job[];
}
