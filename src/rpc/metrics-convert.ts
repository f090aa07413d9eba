import type { NodeMetrics as PbMetrics } from "../../gen/proto/capstan/v1/node_pb.js";
import type { NodeMetrics } from "../model/node.js";
import { emptyMetrics } from "../managers/node-registry.js";

/** Proto metrics (or a message with the same fields, like HeartbeatRequest) to domain; absent metrics are all zero. */
export function metricsFromProto(m: Omit<PbMetrics, "$typeName" | "$unknown" | "replicaUsage"> & Partial<Pick<PbMetrics, "replicaUsage">> | undefined): NodeMetrics {
  if (!m) return emptyMetrics();
  return {
    cpuUsage: m.cpuUsage,
    memUsage: m.memUsage,
    diskFreeMb: m.diskFreeMb,
    runningContainers: [...m.runningContainers],
    memoryUsedMb: m.memoryUsedMb,
    diskUsedMb: m.diskUsedMb,
    cacheHitRate: m.cacheHitRate,
    totalChunks: m.totalChunks,
    activeConnections: m.activeConnections,
    uploadSpeedMbps: m.uploadSpeedMbps,
    downloadSpeedMbps: m.downloadSpeedMbps,
    load1: m.load1,
    replicaUsage: (m.replicaUsage ?? []).map((u) => ({ replicaId: u.replicaId, cpuCores: u.cpuCores, memoryMb: u.memoryMb })),
  };
}
