import { create } from "@bufbuild/protobuf";
import { TaskSchema, type Task as PbTask } from "../../gen/proto/capstan/v1/task_pb.js";
import type { Task } from "../model/task.js";
import { ts } from "./node-convert.js";

/** A task for reads; logs only when given (GetTask, RunTask). */
export function taskToProto(t: Task, logs = ""): PbTask {
  return create(TaskSchema, {
    id: t.id,
    serviceName: t.serviceName,
    kind: t.kind,
    status: t.status,
    jobId: t.jobId,
    nodeId: t.nodeId,
    exitCode: t.exitCode,
    error: t.error,
    logs,
    scheduledTime: ts(t.scheduledAt),
    createTime: ts(t.createdAt),
    finishTime: ts(t.finishedAt),
    specHash: t.specHash,
  });
}
