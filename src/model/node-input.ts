import type { NodeCapabilities, NodeEligibility, NodeMetrics, NodeStatus } from "./node.js";

/** What a caller supplies to register a node. */
export interface RegisterNodeInput {
  /** Empty to let the server choose (or find the node by name). */
  nodeId: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  tags: string[];
  capabilities: NodeCapabilities;
  ports: Record<string, number>;
  agentVersion: string;
}

/** Filters and paging for listing nodes. */
export interface ListNodesInput {
  status?: NodeStatus;
  /** "k=v,k2=v2": all must match. */
  labelSelector: string;
  tag: string;
  pageSize: number;
  pageToken: string;
}

/** A heartbeat's figures. */
export type HeartbeatInput = NodeMetrics;

/** A change of eligibility. */
export interface EligibilityInput {
  nodeId: string;
  eligibility: NodeEligibility;
}
