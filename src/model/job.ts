import type { ServiceSpec } from "./service-spec.js";

/** Life of a job; every command an agent receives is one. */
export type JobStatus = "queued" | "dispatched" | "in_progress" | "completed" | "failed" | "cancelled" | "timed_out";

/** Statuses a job never leaves. */
export const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled", "timed_out"]);

/** What a command asks an agent to do, with its payload. */
export type CommandPayload =
  | { type: "deploy_compose"; projectName: string; composeFile: string; env: Record<string, string>; revision: number }
  | { type: "stop_compose"; projectName: string }
  | { type: "status"; projectName: string }
  | { type: "health_check" }
  | { type: "launch_replica"; service: ServiceSpec; replicaId: string }
  | { type: "stop_replica"; serviceName: string; replicaId: string }
  | {
      type: "replicate_chunk";
      chunkId: string;
      sourceNodeId: string;
      sourceAddress: string;
      targetNodeId: string;
      priority: number;
    }
  | { type: "evict_chunk"; chunkId: string }
  | { type: "run_task"; service: ServiceSpec; taskId: string };

/** The kinds of command. */
export type CommandType = CommandPayload["type"];

/** A command and what became of it. */
export interface Job {
  id: string;
  nodeId: string;
  type: CommandType;
  status: JobStatus;
  /** As sent to the agent, secrets included; redacted at the edge for reads. */
  payload: CommandPayload;
  deploymentId: string;
  serviceName: string;
  replicaId: string;
  /** The tail of the job's output, bounded in size. */
  logs: string;
  error: string;
  exitCode: number;
  result: Record<string, unknown> | undefined;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
  dispatchedAt: Date | undefined;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** How long the job may run once dispatched; 0 for jobs that run until stopped. */
  timeoutMs: number;
  /** Set at first dispatch (queued time does not count); past it the job is TIMED_OUT. */
  deadline: Date | undefined;
}

/** Default run time limits by command type; 0 means until stopped. */
export const DEFAULT_TIMEOUT_MS: Record<CommandType, number> = {
  deploy_compose: 15 * 60_000,
  stop_compose: 5 * 60_000,
  status: 60_000,
  health_check: 60_000,
  launch_replica: 0,
  stop_replica: 2 * 60_000,
  replicate_chunk: 30 * 60_000,
  evict_chunk: 5 * 60_000,
  run_task: 60 * 60_000,
};

/** An agent's report on a job. */
export interface JobUpdate {
  jobId: string;
  status: "in_progress" | "completed" | "failed";
  lines: Array<{ time: Date; stream: string; text: string }>;
  exitCode: number;
  error: string;
  result: Record<string, unknown> | undefined;
}

const transitions: Record<JobStatus, ReadonlySet<JobStatus>> = {
  queued: new Set(["dispatched", "in_progress", "completed", "failed", "cancelled", "timed_out"]),
  dispatched: new Set(["dispatched", "in_progress", "completed", "failed", "cancelled", "timed_out"]),
  in_progress: new Set(["in_progress", "completed", "failed", "cancelled", "timed_out"]),
  completed: new Set(),
  failed: new Set(),
  cancelled: new Set(),
  timed_out: new Set(),
};

/**
 * Whether a job may move from one status to another. An agent may report
 * progress on a job it received before the DISPATCHED write landed, so a
 * queued job may jump straight to in_progress or a final status.
 */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return transitions[from].has(to);
}

/** Secret-free copy of a payload, for reads and logs. */
export function redactPayload(payload: CommandPayload): CommandPayload {
  if (payload.type === "deploy_compose") {
    return { ...payload, env: Object.fromEntries(Object.keys(payload.env).map((k) => [k, "[redacted]"])) };
  }
  if (payload.type === "launch_replica" || payload.type === "run_task") {
    const env = Object.fromEntries(Object.keys(payload.service.env).map((k) => [k, "[redacted]"]));
    return { ...payload, service: { ...payload.service, env } };
  }
  return payload;
}

/** Appends text to a bounded log, keeping the tail. */
export function appendBounded(log: string, text: string, maxChars: number): string {
  const joined = log + text;
  if (joined.length <= maxChars) return joined;
  const cut = joined.slice(joined.length - maxChars);
  const newline = cut.indexOf("\n");
  return newline >= 0 && newline < 200 ? cut.slice(newline + 1) : cut;
}
