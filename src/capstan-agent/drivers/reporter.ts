/** How a driver reports on the job it runs. */
export interface JobReporter {
  /** A line of output. */
  log(stream: "stdout" | "stderr" | "agent", text: string): void;
  /** The job's final outcome. */
  finish(outcome: { ok: boolean; exitCode: number; error?: string; result?: Record<string, unknown> }): void;
}
