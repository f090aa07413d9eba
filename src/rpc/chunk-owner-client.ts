import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import type { ChunkCaller, ChunkEntry, ChunkMetrics, ChunkOwnerClient } from "../model/chunk-index-port.js";
import { UnavailableError } from "../model/errors.js";
import { MIN_INDEX_HEADER } from "../shared/write-index.js";
import { onBehalfHeaders } from "./replica-credentials.js";

/** What of a failed call's metadata the owner's answer passes to the original caller (see error-mapping.ts). */
const PASSED_METADATA = ["capstan-field", "capstan-issues", "capstan-summary", "retry-after"];

/** How the forwarding replica calls the owner. */
export interface ChunkOwnerClientOptions {
  /** CLUSTER_SECRET. */
  secret: string;
  /** Each forwarded call's deadline (RPC_TIMEOUT). */
  timeoutMs: number;
  /**
   * The change index this replica has applied: the owner waits until it has
   * too (Capstan-Min-Index), so a node registered here is known there.
   */
  minIndex: () => number;
}

/** The client, and how to close its connections at shutdown. */
export interface ClosableChunkOwnerClient extends ChunkOwnerClient {
  close(): void;
}

/**
 * Calls to the chunk owner (ChunkIndexService over gRPC, HTTP/2 h2c or TLS
 * to its ADVERTISE_URL, one connection per owner), authenticated with
 * CLUSTER_SECRET and carrying the original caller. Calls the owner could not
 * answer (it is gone, or no longer owns the index) become UnavailableError,
 * which the forwarding port retries once at the new owner; every other
 * failure is the owner's answer, passed to the caller unchanged.
 */
export function createChunkOwnerClient(options: ChunkOwnerClientOptions): ClosableChunkOwnerClient {
  const clients = new Map<string, { client: Client<typeof ChunkIndexService>; sessions: Http2SessionManager }>();
  const clientOf = (owner: string) => {
    let c = clients.get(owner);
    if (!c) {
      const sessions = new Http2SessionManager(owner, { idleConnectionTimeoutMs: 60_000 });
      c = { client: createClient(ChunkIndexService, createGrpcTransport({ baseUrl: owner, sessionManager: sessions })), sessions };
      clients.set(owner, c);
    }
    return c.client;
  };
  // The deadline is a local abort, not a grpc-timeout header: the owner then answers plain
  // binary lookups on its gRPC fast path, as it does for nodes that ask it directly.
  const callOptions = (caller: ChunkCaller) => ({
    signal: AbortSignal.timeout(options.timeoutMs),
    headers: { ...onBehalfHeaders(options.secret, caller), [MIN_INDEX_HEADER]: String(options.minIndex()) },
  });
  const call = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      const ce = ConnectError.from(err);
      if (ce.code === Code.Unavailable || ce.code === Code.DeadlineExceeded || ce.code === Code.Canceled) {
        throw new UnavailableError(`the chunk owner could not answer: ${ce.rawMessage}`, 1, { cause: err });
      }
      // The owner's answer, without its transport's headers (content-type, grpc-status), which are not this call's.
      const metadata = new Headers();
      for (const name of PASSED_METADATA) {
        const v = ce.metadata.get(name);
        if (v !== null) metadata.set(name, v);
      }
      throw new ConnectError(ce.rawMessage, ce.code, metadata);
    }
  };
  const info = (chunks: ChunkEntry[]) => chunks.map((c) => ({ chunkId: c.id, sizeBytes: c.size }));
  return {
    reportFull: (owner, caller, nodeId, chunks) =>
      call(async () => (await clientOf(owner).reportChunks({ nodeId, chunks: info(chunks) }, callOptions(caller))).chunkCount),
    reportUpdate: (owner, caller, nodeId, added, removed) =>
      call(async () => (await clientOf(owner).updateChunks({ nodeId, added: info(added), removedChunkIds: removed }, callOptions(caller))).chunkCount),
    lookup: (owner, caller, chunkIds) =>
      call(async () =>
        (await clientOf(owner).getChunkLocations({ chunkIds: [...chunkIds] }, callOptions(caller))).locations.map((l) => ({ chunkId: l.chunkId, peerIds: l.peerIds, sizeBytes: l.sizeBytes })),
      ),
    clusterMetrics: (owner, caller) =>
      call(async (): Promise<ChunkMetrics> => {
        const m = await clientOf(owner).getClusterMetrics({}, callOptions(caller));
        return {
          totalNodes: m.totalNodes,
          activeNodes: m.activeNodes,
          offlineNodes: m.offlineNodes,
          totalChunks: m.totalChunks,
          totalReplicas: m.totalReplicas,
          totalBytes: m.totalBytes,
          cacheHitRate: m.cacheHitRate,
          underReplicated: m.underReplicated,
          overReplicated: m.overReplicated,
          zeroReplicated: m.zeroReplicated,
          pendingCommands: m.pendingCommands,
        };
      }),
    nodeChunks: (owner, caller, nodeIds, limit) =>
      call(async () =>
        (await clientOf(owner).getNodeChunks({ nodeIds: [...nodeIds], limit }, callOptions(caller))).nodes.map((n) => ({ nodeId: n.nodeId, ids: n.chunkIds, total: n.chunkCount })),
      ),
    close() {
      for (const c of clients.values()) c.sessions.abort();
      clients.clear();
    },
  };
}
