/**
 * The phases of a launch a result of an IN_PROGRESS update names (see
 * CommandUpdate.result in proto/capstan/v1/agent_service.proto).
 */
export const LAUNCH_PHASE = { beforeStart: "before_start", started: "started" } as const;

/** How a driver reports on the job it runs. */
export interface JobReporter {
  /** A line of output. */
  log(stream: "stdout" | "stderr" | "agent", text: string): void;
  /**
   * A step of a job still in progress, sent at once with the lines so far
   * (a launch reports `{ phase: "started" }` once its hooks.beforeStart is done).
   */
  progress(result: Record<string, unknown>): void;
  /** The job's final outcome. */
  finish(outcome: { ok: boolean; exitCode: number; error?: string; result?: Record<string, unknown> }): void;
}
