import type { JobStatus } from "./job.js";

/** Why a task runs: on demand (RunTask), at a schedule's time, or a service's hooks.afterDeploy. */
export type TaskKind = "manual" | "schedule" | "after_deploy";

/** Where a task is; "skipped" is a scheduled time that did not run (error says why). */
export type TaskStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "skipped";

/** Statuses a task never leaves. */
export const TASK_DONE: ReadonlySet<TaskStatus> = new Set(["succeeded", "failed", "cancelled", "skipped"]);

/** One run of a service spec to completion, carried out by one RUN_TASK job. */
export interface Task {
  id: string;
  serviceName: string;
  kind: TaskKind;
  status: TaskStatus;
  /** "" for a skipped time. */
  jobId: string;
  nodeId: string;
  exitCode: number;
  error: string;
  /** The schedule time a scheduled run is for. */
  scheduledAt: Date | undefined;
  /** For after_deploy runs: the spec hash of the apply it ran for. */
  specHash: string;
  createdAt: Date;
  finishedAt: Date | undefined;
}

/** Which tasks to list. */
export interface TaskFilter {
  serviceName?: string;
  kind?: TaskKind;
  /** Only unfinished tasks (pending or running). */
  unfinished?: boolean;
  limit: number;
}

/** Durable storage of tasks, newest first. */
export interface TaskStore {
  save(t: Task): Promise<void>;
  get(id: string): Promise<Task | undefined>;
  list(filter: TaskFilter): Promise<Task[]>;
  /** The latest schedule time a service's schedule fired (ran or skipped), across restarts. */
  lastScheduled(serviceName: string): Promise<Date | undefined>;
  /** Deletes a service's finished tasks of a kind beyond the newest `keep`. */
  prune(serviceName: string, kind: TaskKind, keep: number): Promise<void>;
}

/** A task's status from its job's. */
export function taskStatusOf(job: JobStatus): TaskStatus {
  switch (job) {
    case "queued":
    case "dispatched":
      return "pending";
    case "in_progress":
      return "running";
    case "completed":
      return "succeeded";
    case "cancelled":
      return "cancelled";
    default:
      return "failed";
  }
}
