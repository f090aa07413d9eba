import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CommandSchema,
  CommandType as PbType,
  JobSchema,
  JobStatus as PbStatus,
  type Command as PbCommand,
  type Job as PbJob,
  type LogLine as PbLogLine,
} from "../../gen/proto/capstan/v1/job_pb.js";
import type { CommandUpdate } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import { redactPayload, type CommandPayload, type CommandType, type Job, type JobStatus, type JobUpdate } from "../model/job.js";
import { ts } from "./node-convert.js";
import { serviceSpecFromProto, serviceSpecToProto } from "./service-convert.js";

const statusToPb: Record<JobStatus, PbStatus> = {
  queued: PbStatus.QUEUED,
  dispatched: PbStatus.DISPATCHED,
  in_progress: PbStatus.IN_PROGRESS,
  completed: PbStatus.COMPLETED,
  failed: PbStatus.FAILED,
  cancelled: PbStatus.CANCELLED,
  timed_out: PbStatus.TIMED_OUT,
};
const statusFromPb = new Map(Object.entries(statusToPb).map(([k, v]) => [v, k as JobStatus]));

const typeToPb: Record<CommandType, PbType> = {
  deploy_compose: PbType.DEPLOY_COMPOSE,
  stop_compose: PbType.STOP_COMPOSE,
  status: PbType.STATUS,
  health_check: PbType.HEALTH_CHECK,
  launch_replica: PbType.LAUNCH_REPLICA,
  stop_replica: PbType.STOP_REPLICA,
  replicate_chunk: PbType.REPLICATE_CHUNK,
  evict_chunk: PbType.EVICT_CHUNK,
  run_task: PbType.RUN_TASK,
};

/** Domain job status to proto. */
export function jobStatusToProto(status: JobStatus): PbStatus {
  return statusToPb[status];
}

/** Proto job status to domain; UNSPECIFIED gives undefined (no filter). */
export function jobStatusFromProto(status: PbStatus, field: string): JobStatus | undefined {
  if (status === PbStatus.UNSPECIFIED) return undefined;
  const s = statusFromPb.get(status);
  if (!s) throw new InvalidArgumentError(field, `unknown job status ${String(status)}`);
  return s;
}

/** A command as the agent receives it, secrets included. */
export function commandToProto(job: Job, payload: CommandPayload = job.payload): PbCommand {
  return create(CommandSchema, {
    jobId: job.id,
    type: typeToPb[payload.type],
    payload: payloadToProto(payload),
    deadline: ts(job.deadline),
    attempt: job.attempts,
  });
}

function payloadToProto(p: CommandPayload): PbCommand["payload"] {
  switch (p.type) {
    case "deploy_compose":
      return { case: "deployCompose", value: { $typeName: "capstan.v1.DeployComposePayload", projectName: p.projectName, composeFile: p.composeFile, env: p.env, revision: p.revision } };
    case "stop_compose":
      return { case: "stopCompose", value: { $typeName: "capstan.v1.StopComposePayload", projectName: p.projectName } };
    case "status":
      return { case: "status", value: { $typeName: "capstan.v1.StatusPayload", projectName: p.projectName } };
    case "health_check":
      return { case: "healthCheck", value: { $typeName: "capstan.v1.HealthCheckPayload" } };
    case "launch_replica":
      return { case: "launchReplica", value: { $typeName: "capstan.v1.LaunchReplicaPayload", service: serviceSpecToProto(p.service), replicaId: p.replicaId } };
    case "stop_replica":
      return { case: "stopReplica", value: { $typeName: "capstan.v1.StopReplicaPayload", serviceName: p.serviceName, replicaId: p.replicaId } };
    case "replicate_chunk":
      return { case: "replicateChunk", value: { $typeName: "capstan.v1.ReplicateChunkPayload", ...omitType(p) } };
    case "evict_chunk":
      return { case: "evictChunk", value: { $typeName: "capstan.v1.EvictChunkPayload", chunkId: p.chunkId } };
    case "run_task":
      return { case: "runTask", value: { $typeName: "capstan.v1.RunTaskPayload", service: serviceSpecToProto(p.service), taskId: p.taskId } };
  }
}

function omitType<T extends { type: string }>(p: T): Omit<T, "type"> {
  const { type: _type, ...rest } = p;
  return rest;
}

/** A job for read RPCs: the command's secrets (env values) redacted. */
export function jobToProto(job: Job): PbJob {
  return create(JobSchema, {
    id: job.id,
    nodeId: job.nodeId,
    type: typeToPb[job.type],
    status: statusToPb[job.status],
    deploymentId: job.deploymentId,
    serviceName: job.serviceName,
    replicaId: job.replicaId,
    command: commandToProto(job, redactPayload(job.payload)),
    logs: job.logs,
    error: job.error,
    exitCode: job.exitCode,
    result: job.result as JsonObject | undefined,
    attempts: job.attempts,
    createTime: ts(job.createdAt),
    updateTime: ts(job.updatedAt),
    dispatchTime: ts(job.dispatchedAt),
    startTime: ts(job.startedAt),
    finishTime: ts(job.finishedAt),
    deadline: ts(job.deadline),
  });
}

/** Log lines to proto. */
export function linesToProto(lines: JobUpdate["lines"]): PbLogLine[] {
  return lines.map((l) => ({ $typeName: "capstan.v1.LogLine", time: timestampFromDate(l.time), stream: l.stream, text: l.text }));
}

/** An agent's CommandUpdate to the domain's JobUpdate. */
export function updateFromProto(u: CommandUpdate): JobUpdate {
  const status = statusFromPb.get(u.status);
  if (status !== "in_progress" && status !== "completed" && status !== "failed") {
    throw new InvalidArgumentError("command_update.status", "must be IN_PROGRESS, COMPLETED or FAILED");
  }
  if (u.jobId === "") throw new InvalidArgumentError("command_update.job_id", "is required");
  return {
    jobId: u.jobId,
    status,
    lines: u.lines.map((l) => ({ time: l.time ? timestampDate(l.time) : new Date(), stream: l.stream || "stdout", text: l.text })),
    exitCode: u.exitCode,
    error: u.error,
    result: u.result as Record<string, unknown> | undefined,
  };
}

/** A received command's payload in domain terms (the agent's side of commandToProto). */
export function payloadFromProto(c: PbCommand): CommandPayload {
  const p = c.payload;
  switch (p.case) {
    case "deployCompose":
      return { type: "deploy_compose", projectName: p.value.projectName, composeFile: p.value.composeFile, env: { ...p.value.env }, revision: p.value.revision };
    case "stopCompose":
      return { type: "stop_compose", projectName: p.value.projectName };
    case "status":
      return { type: "status", projectName: p.value.projectName };
    case "healthCheck":
      return { type: "health_check" };
    case "launchReplica":
      if (!p.value.service) throw new InvalidArgumentError("launch_replica.service", "is required");
      return { type: "launch_replica", service: serviceSpecFromProto(p.value.service, "launch_replica.service"), replicaId: p.value.replicaId };
    case "stopReplica":
      return { type: "stop_replica", serviceName: p.value.serviceName, replicaId: p.value.replicaId };
    case "replicateChunk":
      return { type: "replicate_chunk", chunkId: p.value.chunkId, sourceNodeId: p.value.sourceNodeId, sourceAddress: p.value.sourceAddress, targetNodeId: p.value.targetNodeId, priority: p.value.priority };
    case "evictChunk":
      return { type: "evict_chunk", chunkId: p.value.chunkId };
    case "runTask":
      if (!p.value.service) throw new InvalidArgumentError("run_task.service", "is required");
      return { type: "run_task", service: serviceSpecFromProto(p.value.service, "run_task.service"), taskId: p.value.taskId };
    default:
      throw new InvalidArgumentError("command.payload", "is missing");
  }
}
