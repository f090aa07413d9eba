import type { ChunkReportInput, ChunkReportSink } from "./chunk-report.js";
import type { Node } from "./node.js";
import type { Caller } from "./principal.js";

/** A chunk's location answer. */
export interface Location {
  chunkId: string;
  peerIds: string[];
  holders: Node[];
  /** The chunk's size in bytes as reported (0 when unknown). */
  sizeBytes: number;
}

/** The chunk index's cluster figures (GetClusterMetrics). */
export interface ChunkMetrics {
  totalNodes: number;
  activeNodes: number;
  offlineNodes: number;
  totalChunks: number;
  totalReplicas: number;
  totalBytes: number;
  cacheHitRate: number;
  underReplicated: number;
  overReplicated: number;
  zeroReplicated: number;
  pendingCommands: number;
}

/** Up to a limit of the chunk ids a node holds, and how many it holds. */
export interface NodeChunks {
  nodeId: string;
  ids: string[];
  total: number;
}

/** A chunk and its size, as reports carry them. */
export interface ChunkEntry {
  id: string;
  size: number;
}

/** Who a chunk call is made for (a forwarded call is never forwarded again). */
export type ChunkCaller = Caller;

/**
 * The chunk index as the rest of the control plane uses it. One replica owns
 * the index (the leader); on the others every call is forwarded to it with
 * the caller's principal. With one process (SQLite) this is the chunk
 * manager itself, answering synchronously.
 */
export interface ChunkIndexPort extends ChunkReportSink {
  /** Replaces a node's chunks; answers how many it holds. */
  reportFull(caller: ChunkCaller, nodeId: string, chunks: ChunkEntry[]): number | Promise<number>;
  /** Adds and removes a node's chunks; answers how many it holds. */
  reportUpdate(caller: ChunkCaller, nodeId: string, added: ChunkEntry[], removed: string[]): number | Promise<number>;
  /** Online holders per chunk, least loaded first; unknown chunks get none. */
  lookup(caller: ChunkCaller, chunkIds: readonly string[]): Location[] | Promise<Location[]>;
  /** Cluster figures; replication counts as of the owner's last monitor pass. */
  clusterMetrics(caller: ChunkCaller): ChunkMetrics | Promise<ChunkMetrics>;
  /** Each node's chunk ids (at most `limit`) and count, in request order (node lists' available_chunks). */
  nodeChunks(caller: ChunkCaller, nodeIds: readonly string[], limit: number): NodeChunks[] | Promise<NodeChunks[]>;
}

/**
 * A call to the chunk owner on a caller's behalf (src/rpc/chunk-owner-client.ts):
 * authenticated as a replica, carrying the caller's principal and address.
 */
export interface ChunkOwnerClient {
  reportFull(owner: string, caller: ChunkCaller, nodeId: string, chunks: ChunkEntry[]): Promise<number>;
  reportUpdate(owner: string, caller: ChunkCaller, nodeId: string, added: ChunkEntry[], removed: string[]): Promise<number>;
  /** Holders as the owner answered them: ids only (the caller's replica fills in its own views of the nodes). */
  lookup(owner: string, caller: ChunkCaller, chunkIds: readonly string[]): Promise<Array<{ chunkId: string; peerIds: string[]; sizeBytes: number }>>;
  clusterMetrics(owner: string, caller: ChunkCaller): Promise<ChunkMetrics>;
  nodeChunks(owner: string, caller: ChunkCaller, nodeIds: readonly string[], limit: number): Promise<NodeChunks[]>;
}

/** The agent stream's caller: the node itself, which its stream authenticated. */
export function nodeCaller(nodeId: string): ChunkCaller {
  return { principal: { kind: "node", nodeId }, address: "", forwarded: false };
}

export type { ChunkReportInput };
