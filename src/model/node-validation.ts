import { InvalidArgumentError } from "./errors.js";
import type { NodeMetrics } from "./node.js";
import type { RegisterNodeInput } from "./node-input.js";
import {
  nonNegative,
  optionalAddress,
  optionalText,
  requireId,
  requireText,
  validateLabels,
  validatePorts,
  validateTags,
} from "./validate.js";

/** Checks a registration field by field; throws InvalidArgument naming the first bad one. */
export function validateRegistration(input: RegisterNodeInput): RegisterNodeInput {
  if (input.nodeId !== "") requireId("node_id", input.nodeId);
  // Nodes that choose their own id often send no name (seed 004); the id serves.
  const name = input.name === "" ? input.nodeId : input.name;
  requireText("name", name, 253);
  optionalAddress("address", input.address);
  validateLabels("labels", input.labels);
  const tags = validateTags("tags", input.tags);
  validatePorts("ports", input.ports);
  optionalText("agent_version", input.agentVersion, 64);
  const c = input.capabilities;
  optionalText("capabilities.os", c.os, 64);
  optionalText("capabilities.arch", c.arch, 64);
  nonNegative("capabilities.cpu_count", c.cpuCount, 1_000_000);
  nonNegative("capabilities.mem_mb", c.memMb);
  nonNegative("capabilities.disk_mb", c.diskMb);
  optionalText("capabilities.docker.version", c.dockerVersion, 64);
  if (c.gpus.length > 64) throw new InvalidArgumentError("capabilities.gpus", "must have at most 64 entries");
  c.gpus.forEach((g, i) => {
    optionalText(`capabilities.gpus[${i}].model`, g.model, 128);
    nonNegative(`capabilities.gpus[${i}].mem_mb`, g.memMb);
  });
  return { ...input, name, tags };
}

/** Checks heartbeat figures: percentages within 0-100, nothing negative. */
export function validateHeartbeat(m: NodeMetrics): NodeMetrics {
  nonNegative("cpu_usage", m.cpuUsage, 100);
  nonNegative("mem_usage", m.memUsage, 100);
  nonNegative("disk_free_mb", m.diskFreeMb);
  nonNegative("memory_used_mb", m.memoryUsedMb);
  nonNegative("disk_used_mb", m.diskUsedMb);
  nonNegative("cache_hit_rate", m.cacheHitRate, 1);
  nonNegative("total_chunks", m.totalChunks);
  nonNegative("active_connections", m.activeConnections);
  nonNegative("upload_speed_mbps", m.uploadSpeedMbps);
  nonNegative("download_speed_mbps", m.downloadSpeedMbps);
  nonNegative("load1", m.load1);
  if (m.runningContainers.length > 1000) throw new InvalidArgumentError("running_containers", "must have at most 1000 entries");
  m.runningContainers.forEach((c, i) => optionalText(`running_containers[${i}]`, c, 253));
  const usage = m.replicaUsage ?? [];
  if (usage.length > 1000) throw new InvalidArgumentError("replica_usage", "must have at most 1000 entries");
  usage.forEach((u, i) => {
    optionalText(`replica_usage[${i}].replica_id`, u.replicaId, 253);
    nonNegative(`replica_usage[${i}].cpu_cores`, u.cpuCores, 4096);
  });
  return m;
}
