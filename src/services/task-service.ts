import type { ServiceImpl } from "@connectrpc/connect";
import type { TaskService } from "../../gen/proto/capstan/v1/task_service_pb.js";
import { InvalidArgumentError, NotFoundError } from "../model/errors.js";
import { validateServices } from "../model/service-validation.js";
import type { TaskManager } from "../managers/task-manager.js";
import type { ServiceState } from "../state/service-state.js";
import { serviceSpecFromProto } from "../rpc/service-convert.js";
import { taskToProto } from "../rpc/task-convert.js";
import { callerKey } from "../rpc/context.js";
import type { Caller } from "../model/principal.js";

/** What TaskService needs. */
export interface TaskServiceDeps {
  tasks: TaskManager;
  state: ServiceState;
  /**
   * Before placing work that lists chunk ids on a replica that does not own
   * the chunk index: fetches those chunks' locations from the owner, as the
   * caller (ChunkLocality.prepare). Absent or a no-op with one process.
   */
  prepareChunks?: (caller: Caller, chunkIds: readonly string[] | undefined) => Promise<void>;
}

/** TaskService: one-off tasks, run on demand, listed and cancelled. */
export function createTaskService(deps: TaskServiceDeps): ServiceImpl<typeof TaskService> {
  return {
    async runTask(req, ctx) {
      if (req.timeoutSeconds < 0) throw new InvalidArgumentError("timeout_seconds", "must be at least 0 (0: the server's TASK_TIMEOUT)");
      let spec;
      if (req.serviceName) {
        if (req.service) throw new InvalidArgumentError("service", "give either service or service_name, not both");
        spec = deps.state.services.get(req.serviceName)?.spec;
        if (!spec) throw new NotFoundError("service", req.serviceName);
      } else {
        if (!req.service) throw new InvalidArgumentError("service", "a service spec or a service_name is required");
        // The spec is checked and defaulted as Apply does; replicas and schedule do not apply to one run.
        spec = validateServices([serviceSpecFromProto(req.service, "service")], "service")[0];
      }
      await deps.prepareChunks?.(ctx.values.get(callerKey), spec.placement.chunkIds);
      const task = await deps.tasks.run({ spec: { ...spec, schedule: "" }, kind: "manual", timeoutMs: req.timeoutSeconds * 1000 });
      return { task: taskToProto(task) };
    },
    async getTask(req) {
      if (!req.taskId) throw new InvalidArgumentError("task_id", "is required");
      const { task, logs } = await deps.tasks.get(req.taskId);
      return { task: taskToProto(task, logs) };
    },
    async listTasks(req) {
      if (req.pageSize < 0) throw new InvalidArgumentError("page_size", "must be at least 0");
      const tasks = await deps.tasks.list({ serviceName: req.serviceName || undefined, limit: Math.min(req.pageSize || 50, 500) });
      return { tasks: tasks.map((t) => taskToProto(t)) };
    },
    async cancelTask(req) {
      if (!req.taskId) throw new InvalidArgumentError("task_id", "is required");
      return { task: taskToProto(await deps.tasks.cancel(req.taskId, req.reason)) };
    },
  };
}
