import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  NodeCapabilitiesSchema,
  NodeEligibility as PbEligibility,
  NodeMetricsSchema,
  NodeSchema,
  NodeStatus as PbStatus,
  type Node as PbNode,
  type NodeCapabilities as PbCapabilities,
} from "../../gen/proto/capstan/v1/node_pb.js";
import type { HeartbeatRequest, RegisterNodeRequest } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import { emptyCapabilities, type Node, type NodeCapabilities, type NodeEligibility, type NodeMetrics, type NodeStatus } from "../model/node.js";
import type { RegisterNodeInput } from "../model/node-input.js";
import { metricsFromProto } from "./metrics-convert.js";

/** Optional Date to Timestamp. */
export function ts(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}

/** Optional Timestamp to Date. */
export function dateOf(t: Timestamp | undefined): Date | undefined {
  return t === undefined ? undefined : timestampDate(t);
}

/** Domain status to proto. */
export function statusToProto(status: NodeStatus): PbStatus {
  return status === "online" ? PbStatus.ONLINE : PbStatus.OFFLINE;
}

/** Proto status filter to domain; UNSPECIFIED means no filter. */
export function statusFromProto(status: PbStatus, field: string): NodeStatus | undefined {
  switch (status) {
    case PbStatus.UNSPECIFIED:
      return undefined;
    case PbStatus.ONLINE:
      return "online";
    case PbStatus.OFFLINE:
      return "offline";
    default:
      throw new InvalidArgumentError(field, `unknown status ${String(status)}`);
  }
}

/** Proto eligibility to domain; UNSPECIFIED is an error where a value is required. */
export function eligibilityFromProto(value: PbEligibility, field: string): NodeEligibility {
  if (value === PbEligibility.ELIGIBLE) return "eligible";
  if (value === PbEligibility.INELIGIBLE) return "ineligible";
  throw new InvalidArgumentError(field, "must be NODE_ELIGIBILITY_ELIGIBLE or NODE_ELIGIBILITY_INELIGIBLE");
}

/** Proto capabilities to domain. */
export function capabilitiesFromProto(c: PbCapabilities | undefined): NodeCapabilities {
  if (!c) return emptyCapabilities();
  return {
    os: c.os,
    arch: c.arch,
    cpuCount: c.cpuCount,
    memMb: c.memMb,
    diskMb: c.diskMb,
    gpus: c.gpus.map((g) => ({ id: g.id, model: g.model, memMb: g.memMb })),
    dockerAvailable: c.docker?.available ?? false,
    dockerVersion: c.docker?.version ?? "",
  };
}

/** RegisterNodeRequest to the domain's input. */
export function registrationFromProto(req: RegisterNodeRequest): RegisterNodeInput {
  return {
    nodeId: req.nodeId,
    name: req.name,
    address: req.address,
    labels: { ...req.labels },
    tags: [...req.tags],
    capabilities: capabilitiesFromProto(req.capabilities),
    ports: { ...req.ports },
    agentVersion: req.agentVersion,
  };
}

/** HeartbeatRequest's flat figures to domain metrics: the same fields as NodeMetrics. */
export function metricsFromHeartbeat(req: HeartbeatRequest): NodeMetrics {
  return metricsFromProto(req);
}

// Domain nodes are immutable, so a node object converts to the same message
// every time; caching by identity takes conversion off the list hot path.
const converted = new WeakMap<Node, PbNode>();

/**
 * Domain node to proto. The returned message is shared: callers must not
 * mutate it. `connected` comes from the live session registry, not the node.
 */
export function nodeToProto(node: Node, connected = false): PbNode {
  let pb = converted.get(node);
  if (!pb) {
    const c = node.capabilities;
    pb = create(NodeSchema, {
      id: node.id,
      name: node.name,
      address: node.address,
      labels: node.labels,
      tags: node.tags,
      capabilities: create(NodeCapabilitiesSchema, {
        os: c.os,
        arch: c.arch,
        cpuCount: c.cpuCount,
        memMb: c.memMb,
        diskMb: c.diskMb,
        gpus: c.gpus,
        docker: { version: c.dockerVersion, available: c.dockerAvailable },
      }),
      ports: node.ports,
      status: statusToProto(node.status),
      eligibility: node.eligibility === "eligible" ? PbEligibility.ELIGIBLE : PbEligibility.INELIGIBLE,
      draining: node.draining,
      agentVersion: node.agentVersion,
      metrics: node.metrics ? create(NodeMetricsSchema, node.metrics) : undefined,
      lastHeartbeat: ts(node.lastHeartbeatAt),
      createTime: ts(node.createdAt),
      updateTime: ts(node.updatedAt),
    });
    converted.set(node, pb);
  }
  return pb.connected === connected ? pb : { ...pb, connected };
}
