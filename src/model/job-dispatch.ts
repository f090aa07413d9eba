import type { NewJob } from "./command-bus.js";
import { newTimeOrderedId } from "./ids.js";
import { DEFAULT_TIMEOUT_MS, TERMINAL, type Job, type JobStatus } from "./job.js";
import type { DeliveryTarget } from "./job-delivery.js";

/** A new job as submitted: queued, with a time-ordered id and the default time limit of its type. */
export function newJob(input: NewJob, now: Date): Job {
  return {
    id: newTimeOrderedId(now.getTime()),
    nodeId: input.nodeId,
    type: input.payload.type,
    status: "queued",
    payload: input.payload,
    deploymentId: input.deploymentId ?? "",
    serviceName: input.serviceName ?? "",
    replicaId: input.replicaId ?? "",
    logs: "",
    error: "",
    exitCode: 0,
    result: undefined,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    dispatchedAt: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS[input.payload.type],
    deadline: undefined,
  };
}

/**
 * The job as a delivery to target leaves it: dispatched (its deadline set at
 * the first delivery: queued time does not count), taken at its word when the
 * agent never acknowledges, or failed when the agent cannot run it.
 */
export function deliveredTo(job: Job, target: DeliveryTarget, now: Date): Job {
  if (!target.supports(job.type)) {
    return { ...job, status: "failed", error: `the agent on node ${job.nodeId} (${target.protocol}) cannot run ${job.type} commands`, finishedAt: now, updatedAt: now };
  }
  const first = job.dispatchedAt === undefined;
  // Agents that never acknowledge (seed 003) are taken at their word on receipt.
  const status: JobStatus = target.acknowledges
    ? job.status === "in_progress" ? "in_progress" : "dispatched"
    : job.type === "launch_replica" ? "in_progress" : "completed";
  return {
    ...job,
    status,
    attempts: job.attempts + 1,
    dispatchedAt: now,
    deadline: first && job.timeoutMs > 0 ? new Date(now.getTime() + job.timeoutMs) : job.deadline,
    startedAt: status !== "dispatched" ? (job.startedAt ?? now) : job.startedAt,
    finishedAt: TERMINAL.has(status) ? now : undefined,
    updatedAt: now,
  };
}
