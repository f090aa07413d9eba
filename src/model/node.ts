/**
 * The node as the domain sees it: no protobuf, no Prisma. Services convert proto
 * messages to and from these types; the store persists them.
 */

/** Liveness as derived from heartbeats and the heartbeat TTL. */
export type NodeStatus = "online" | "offline";

/** Whether the scheduler may place new work on the node (Nomad's eligibility). */
export type NodeEligibility = "eligible" | "ineligible";

/** One GPU as an agent reports it (seed 001). */
export interface Gpu {
  id: number;
  model: string;
  memMb: number;
}

/** Structured host facts reported at registration (seeds 001 and 004). */
export interface NodeCapabilities {
  os: string;
  arch: string;
  cpuCount: number;
  memMb: number;
  diskMb: number;
  gpus: Gpu[];
  dockerAvailable: boolean;
  dockerVersion: string;
}

/** The latest resource figures a node sent with a heartbeat (seeds 001 and 004). */
export interface NodeMetrics {
  cpuUsage: number;
  memUsage: number;
  diskFreeMb: number;
  runningContainers: string[];
  memoryUsedMb: number;
  diskUsedMb: number;
  cacheHitRate: number;
  totalChunks: number;
  activeConnections: number;
  uploadSpeedMbps: number;
  downloadSpeedMbps: number;
  load1: number;
  /** Per-replica figures from agents that measure them (capstan-agent's process driver); soft state, not stored. */
  replicaUsage?: ReplicaUsage[];
}

/** What one service replica's processes use, as its agent measured it. */
export interface ReplicaUsage {
  replicaId: string;
  /** CPU cores used since the agent's previous heartbeat. */
  cpuCores: number;
  memoryMb: number;
}

/**
 * The kind of agent a registration came from, by its path: Capstan's AgentStream
 * ("grpc"), RegisterNode over REST, Connect or gRPC ("rest": MIaaS, seed 000,
 * ElioP2P), and the two /ws dialects. Names are unique per kind, so agents of
 * different systems on one host may each register under the hostname.
 */
export type AgentKind = "grpc" | "rest" | "ws-instadeploy" | "ws-orion";

/** A registered machine. */
export interface Node {
  id: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  /** Seed 000's capability strings, e.g. "docker", "compose", "gpu". */
  tags: string[];
  capabilities: NodeCapabilities;
  /** Named ports a node serves on, e.g. ElioP2P's "p2p" and "http". */
  ports: Record<string, number>;
  status: NodeStatus;
  eligibility: NodeEligibility;
  draining: boolean;
  agentVersion: string;
  /** SHA-256 hex of the node's token; never the token itself. */
  tokenHash: string;
  /**
   * Registered without credentials (seed 004's cache nodes, which cannot send
   * a token). Only such nodes may be acted for by token-less callers.
   */
  anonymous: boolean;
  /** The kind of agent that registered it; "" for nodes stored before kinds were recorded. */
  agentKind: AgentKind | "";
  metrics: NodeMetrics | undefined;
  lastHeartbeatAt: Date | undefined;
  createdAt: Date;
  updatedAt: Date;
}

/** Empty capabilities, for nodes that reported none. */
export function emptyCapabilities(): NodeCapabilities {
  return { os: "", arch: "", cpuCount: 0, memMb: 0, diskMb: 0, gpus: [], dockerAvailable: false, dockerVersion: "" };
}
