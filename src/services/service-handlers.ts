import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeVerdictSchema } from "../../gen/proto/capstan/v1/placement_pb.js";
import { ScaleEventSchema, type Service as PbService } from "../../gen/proto/capstan/v1/service_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import { listOrder, paginate } from "../model/pagination.js";
import type { ServiceManager, ServiceView } from "../managers/service-manager.js";
import type { ServiceState } from "../state/service-state.js";
import type { TaskManager } from "../managers/task-manager.js";
import { nextScheduleTime } from "../orchestrator/schedule.js";
import { taskToProto } from "../rpc/task-convert.js";
import { Placer } from "../orchestrator/placer.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { requirementsFromProto } from "../rpc/placement-convert.js";
import { callerKey } from "../rpc/context.js";
import type { Caller } from "../model/principal.js";
import { ts } from "../rpc/node-convert.js";
import { replicaToProto, serviceSpecFromProto, serviceSpecToProto } from "../rpc/service-convert.js";

type Handlers = Pick<ServiceImpl<typeof DeploymentService>, "apply" | "listServices" | "getService" | "deleteService" | "explainPlacement">;

/** What the service handlers need. */
export interface ServiceHandlerDeps {
  services: ServiceManager;
  state: ServiceState;
  snapshot: () => ClusterSnapshot;
  tasks?: TaskManager;
  /**
   * Before placing work that lists chunk ids on a replica that does not own
   * the chunk index: fetches those chunks' locations from the owner, as the
   * caller (ChunkLocality.prepare). Absent or a no-op with one process.
   */
  prepareChunks?: (caller: Caller, chunkIds: readonly string[] | undefined) => Promise<void>;
}

const SERVICE_ORDER = listOrder<ServiceView>({ name: "services.name", parts: ["string"], key: (s) => [s.spec.name] });

const API_VERSIONS = new Set(["", "orion/v1", "capstan/v1"]);

/** DeploymentService's declarative-service RPCs (seed 003) and the scheduler's explanations. */
export function createServiceHandlers(deps: ServiceHandlerDeps): Handlers {
  const toProto = (s: ServiceView): PbService => {
    const pb = serviceSpecToProto({ ...s.spec, env: Object.fromEntries(Object.keys(s.spec.env).map((k) => [k, "[redacted]"])) });
    pb.id = s.id;
    pb.status = s.status;
    pb.statusMessage = s.statusMessage;
    pb.autoscalingStatus = s.autoscalingStatus;
    const last = s.lastScale;
    if (last) {
      pb.lastScale = create(ScaleEventSchema, {
        time: ts(last.at),
        fromReplicas: last.from,
        toReplicas: last.to,
        metric: last.metric ?? 0,
        threshold: last.threshold ?? 0,
        source: last.source ?? "",
        reason: last.reason,
      });
    }
    pb.createdAt = ts(s.createdAt);
    pb.updatedAt = ts(s.updatedAt);
    pb.replicaSet = deps.state.replicasOf(s.spec.name).map(replicaToProto);
    // Issue 16: the schedule's last runs and next time, and the after-deploy hook's outcome.
    if (deps.tasks && s.spec.schedule) {
      pb.recentTasks = deps.tasks.recent(s.spec.name, "schedule").slice(0, 10).map((t) => taskToProto(t));
      pb.nextScheduleTime = ts(nextScheduleTime(s.spec.schedule, s.spec.scheduleTimeZone ?? "", new Date()));
    }
    const hook = deps.tasks?.recent(s.spec.name, "after_deploy").find((t) => t.specHash === deps.state.services.get(s.spec.name)?.specHash);
    if (hook) pb.afterDeployTask = taskToProto(hook);
    return pb;
  };
  return {
    async apply(req) {
      if (!API_VERSIONS.has(req.apiVersion)) throw new InvalidArgumentError("api_version", 'must be "orion/v1" or "capstan/v1"');
      if (req.kind !== "" && req.kind !== "Config") throw new InvalidArgumentError("kind", 'must be "Config"');
      const specs = (req.spec?.services ?? []).map((s, i) => serviceSpecFromProto(s, `spec.services[${i}]`));
      const changes = await deps.services.apply(specs, { dryRun: req.dryRun, prune: req.prune });
      return { status: req.dryRun ? "planned" : "accepted", plan: { changes } };
    },
    listServices(req) {
      const page = paginate(deps.services.list(), SERVICE_ORDER, req);
      return { items: page.items.map(toProto), nextPageToken: page.nextPageToken };
    },
    getService(req) {
      return { service: toProto(deps.services.get(req.serviceName)) };
    },
    async deleteService(req) {
      await deps.services.delete(req.serviceName);
      return {};
    },
    async explainPlacement(req, ctx) {
      if (req.count < 0 || req.count > 10_000) throw new InvalidArgumentError("count", "must be 0-10000");
      if (req.serviceName !== "") {
        const placement = req.requirements ? requirementsFromProto(req.requirements, "requirements") : undefined;
        const chunkIds = placement?.chunkIds ?? deps.state.services.get(req.serviceName)?.spec.placement.chunkIds;
        await deps.prepareChunks?.(ctx.values.get(callerKey), chunkIds);
        const e = deps.services.explain(req.serviceName, { replicas: req.count || undefined, placement });
        return {
          nodes: e.verdicts.map((v) => create(NodeVerdictSchema, v)),
          chosenNodeIds: e.placements,
          stoppingReplicaIds: e.stoppingReplicaIds,
          summary: e.summary,
        };
      }
      const requirements = requirementsFromProto(req.requirements, "requirements");
      await deps.prepareChunks?.(ctx.values.get(callerKey), requirements.chunkIds);
      const { verdicts, result } = new Placer(deps.snapshot()).explain({ requirements, count: req.count || 1, group: "explain" });
      return {
        nodes: verdicts.map((v) => create(NodeVerdictSchema, v)),
        chosenNodeIds: result.placements,
        summary: result.summary,
      };
    },
  };
}
