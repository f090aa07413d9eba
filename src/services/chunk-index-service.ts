import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ChunkHolderSchema, ChunkLocationSchema, type ChunkHolder, type ChunkLocation } from "../../gen/proto/capstan/v1/chunk_pb.js";
import type { ChunkIndexService, GetChunkLocationsRequest, GetChunkLocationsResponseSchema } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import type { ChunkManager } from "../managers/chunk-manager.js";
import type { ChunkCaller, ChunkIndexPort } from "../model/chunk-index-port.js";
import { callerKey } from "../rpc/context.js";
import type { Job } from "../model/job.js";
import type { Location, NodeChunks } from "../model/chunk-index-port.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { Node } from "../model/node.js";
import { requireId } from "../model/validate.js";

/** A chunk command job in seed 004's shape. */
function toReplicationCommand(job: Job) {
  const p = job.payload;
  const replicate = p.type === "replicate_chunk";
  return {
    commandId: job.id,
    chunkId: p.type === "replicate_chunk" || p.type === "evict_chunk" ? p.chunkId : "",
    action: replicate ? "replicate" : "evict",
    sourceNodeId: replicate ? p.sourceNodeId : job.nodeId,
    targetNodeId: replicate ? p.targetNodeId : job.nodeId,
    priority: replicate ? p.priority : 0,
    createdAt: job.createdAt.getTime(),
  };
}

// Nodes are immutable objects, so a node's holder message can be made once and shared.
const holders = new WeakMap<Node, ChunkHolder>();
function holderOf(n: Node): ChunkHolder {
  let h = holders.get(n);
  if (!h) holders.set(n, (h = create(ChunkHolderSchema, { nodeId: n.id, address: n.address, labels: n.labels, ports: n.ports })));
  return h;
}

/**
 * GetChunkLocations' answer; shared with the gRPC fast path
 * (src/rpc/grpc-fast-path.ts). Synchronous when this replica owns the index.
 */
export function chunkLocations(
  index: ChunkIndexPort,
  caller: ChunkCaller,
  req: GetChunkLocationsRequest,
): MessageInitShape<typeof GetChunkLocationsResponseSchema> | Promise<MessageInitShape<typeof GetChunkLocationsResponseSchema>> {
  const found = index.lookup(caller, req.chunkIds);
  return Array.isArray(found) ? locationsAnswer(found) : found.then(locationsAnswer);
}

function locationsAnswer(found: Location[]): MessageInitShape<typeof GetChunkLocationsResponseSchema> {
  // Messages are plain objects with a type name: every field is given, so create() would only copy them.
  return {
    locations: found.map((l): ChunkLocation => ({
      $typeName: ChunkLocationSchema.typeName,
      chunkId: l.chunkId,
      peerIds: l.peerIds,
      holders: l.holders.map(holderOf),
      sizeBytes: l.sizeBytes,
    })),
  };
}

/**
 * ChunkIndexService's handlers (seed 004). Reports, lookups and metrics go
 * through the index port (the owner's index, forwarded to it from other
 * replicas with the caller); targets and commands are rows, served here.
 */
export function createChunkIndexService(chunks: ChunkManager, index: ChunkIndexPort): ServiceImpl<typeof ChunkIndexService> {
  return {
    async reportChunks(req, ctx) {
      const list = [...req.chunkIds.map((id) => ({ id, size: 0 })), ...req.chunks.map((c) => ({ id: c.chunkId, size: c.sizeBytes }))];
      return { chunkCount: await index.reportFull(ctx.values.get(callerKey), requireId("node_id", req.nodeId), list) };
    },
    async updateChunks(req, ctx) {
      const added = [...req.addedChunkIds.map((id) => ({ id, size: 0 })), ...req.added.map((c) => ({ id: c.chunkId, size: c.sizeBytes }))];
      return { chunkCount: await index.reportUpdate(ctx.values.get(callerKey), requireId("node_id", req.nodeId), added, [...req.removedChunkIds]) };
    },
    getChunkLocations(req, ctx) {
      return chunkLocations(index, ctx.values.get(callerKey), req);
    },
    getNodeChunks(req, ctx) {
      if (req.nodeIds.length > 10_000) throw new InvalidArgumentError("node_ids", "must have at most 10000 entries");
      if (req.limit > 10_000) throw new InvalidArgumentError("limit", "must be at most 10000");
      const answer = (found: NodeChunks[]) => ({ nodes: found.map((n) => ({ nodeId: n.nodeId, chunkIds: n.ids, chunkCount: n.total })) });
      const found = index.nodeChunks(ctx.values.get(callerKey), req.nodeIds, req.limit);
      return Array.isArray(found) ? answer(found) : found.then(answer);
    },
    async setReplicationTarget(req) {
      return { chunkId: req.chunkId, replicationFactor: await chunks.setTarget(req.chunkId, req.replicationFactor) };
    },
    getClusterMetrics(_req, ctx) {
      return index.clusterMetrics(ctx.values.get(callerKey));
    },
    async pullCommands(req) {
      return { commands: (await chunks.pull(requireId("node_id", req.nodeId))).map(toReplicationCommand) };
    },
    async ackCommand(req) {
      await chunks.acknowledge(requireId("node_id", req.nodeId), requireId("command_id", req.commandId), req.success ?? true, req.error);
      return {};
    },
  };
}
