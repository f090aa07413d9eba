import { create, type JsonValue } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { ReplicaSchema, ServiceSchema, type Replica as PbReplica, type Service as PbService } from "../../gen/proto/capstan/v1/service_pb.js";
import type { Replica } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import { ts } from "./node-convert.js";
import { requirementsFromProto, requirementsToProto } from "./placement-convert.js";

const valueToJson = (v: Value | undefined): unknown => (v === undefined ? undefined : toJson(ValueSchema, v));
const jsonToValue = (v: unknown): Value | undefined =>
  v === undefined ? undefined : fromJson(ValueSchema, v as JsonValue);

/** Proto service (spec fields only) to the domain's spec. */
export function serviceSpecFromProto(s: PbService, field: string): ServiceSpec {
  return {
    name: s.name,
    path: s.path,
    type: s.type,
    entry: s.entry,
    command: s.command,
    runtime: s.runtime,
    image: s.image,
    replicas: s.replicas,
    ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol === "udp" ? "udp" : "tcp", targetPort: p.targetPort })),
    env: { ...s.env },
    resources: { cpu: s.resources?.cpu ?? 0, memory: s.resources?.memory ?? 0 },
    schedule: s.schedule,
    hooks: { beforeStart: s.hooks?.beforeStart ?? "", afterDeploy: s.hooks?.afterDeploy ?? "" },
    plugins: s.plugins.map(valueToJson),
    autoscaling: s.autoscaling
      ? {
          enabled: s.autoscaling.enabled,
          minReplicas: s.autoscaling.minReplicas,
          maxReplicas: s.autoscaling.maxReplicas,
          scaleUpThreshold: s.autoscaling.scaleUpThreshold,
          scaleDownThreshold: s.autoscaling.scaleDownThreshold,
          scaleDownDelaySeconds: s.autoscaling.scaleDownDelaySeconds,
        }
      : undefined,
    serverless: valueToJson(s.serverless),
    labels: { ...s.labels },
    dependencies: [...s.dependencies],
    placement: requirementsFromProto(s.placement, `${field}.placement`),
    update: s.update ? { maxParallel: s.update.maxParallel, maxUnavailable: s.update.maxUnavailable } : undefined,
    // Issue 16: schedules.
    ...(s.scheduleTimeZone ? { scheduleTimeZone: s.scheduleTimeZone } : {}),
    ...(s.scheduleAllowOverlap ? { scheduleAllowOverlap: true } : {}),
  };
}

/** Domain spec to a proto service (spec fields only; observed state is added by the caller). */
export function serviceSpecToProto(s: ServiceSpec): PbService {
  return create(ServiceSchema, {
    name: s.name,
    path: s.path,
    type: s.type,
    entry: s.entry,
    command: s.command,
    runtime: s.runtime,
    image: s.image,
    replicas: s.replicas,
    ports: s.ports,
    env: s.env,
    resources: s.resources,
    schedule: s.schedule,
    hooks: s.hooks,
    plugins: s.plugins.map((p) => jsonToValue(p) ?? create(ValueSchema)),
    autoscaling: s.autoscaling,
    serverless: jsonToValue(s.serverless),
    labels: s.labels,
    dependencies: s.dependencies,
    placement: requirementsToProto(s.placement),
    update: s.update,
    // Issue 16: schedules.
    scheduleTimeZone: s.scheduleTimeZone ?? "",
    scheduleAllowOverlap: s.scheduleAllowOverlap ?? false,
  });
}

/** A service replica for reads: where it runs, its state, its launch job. */
export function replicaToProto(r: Replica): PbReplica {
  return create(ReplicaSchema, { id: r.id, serviceName: r.serviceName, nodeId: r.nodeId, status: r.status, jobId: r.jobId, createTime: ts(r.createdAt) });
}
