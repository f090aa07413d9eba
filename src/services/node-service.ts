import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { NodeMetricsSampleSchema, NodeSummarySchema, type NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import type { ChunkManager } from "../managers/chunk-manager.js";
import type { ChunkIndexPort, NodeChunks } from "../model/chunk-index-port.js";
import type { Caller } from "../model/principal.js";
import { UnavailableError } from "../model/errors.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import type { MetricsHistory } from "../state/metrics-history.js";
import { registersAnonymously, registersWithCredential } from "../rpc/access-policy.js";
import { callerKey, peerKey, principalKey } from "../rpc/context.js";
import {
  eligibilityFromProto,
  metricsFromHeartbeat,
  nodeToProto,
  registrationFromProto,
  statusFromProto,
  statusToProto,
  ts,
} from "../rpc/node-convert.js";

/** What the NodeService handlers need. */
export interface NodeServiceDeps {
  registry: NodeRegistry;
  /** Whether a node's agent stream is connected now. */
  isConnected: (nodeId: string) => boolean;
  /** Configured public URL; when unset it is derived from the request's host. */
  publicUrl: string | undefined;
  /** Checks the chunk ids a node registers with (seed 004's `available_chunks`). */
  chunks: Pick<ChunkManager, "checkIds">;
  /**
   * The chunk index (the owner's, forwarded to it from other replicas): where
   * those are recorded as the node's full report, and what nodes hold (seed
   * 004's available_chunks: up to a limit of ids, and the total).
   */
  chunkIndex: Pick<ChunkIndexPort, "reportFull" | "nodeChunks">;
  /** Recent heartbeat metrics per node. */
  history: Pick<MetricsHistory, "samples">;
}

const NO_CHUNKS: NodeChunks = { nodeId: "", ids: [], total: 0 };

/** How many of a node's chunk ids a list carries per node, and GetNode carries. */
export const CHUNKS_IN_LISTS = 100;
export const CHUNKS_IN_GET = 10_000;

/** NodeService's handlers: decode, call the registry, encode. */
export function createNodeService(deps: NodeServiceDeps): ServiceImpl<typeof NodeService> {
  const { registry, isConnected } = deps;
  type NodeModel = Parameters<typeof nodeToProto>[0];
  const withChunks = (node: NodeModel, chunks: NodeChunks) => {
    const out = nodeToProto(node, isConnected(node.id));
    // Most nodes hold no chunks: their shared message is returned as it is.
    return chunks.total === 0 ? out : { ...out, availableChunks: chunks.ids, chunkCount: chunks.total };
  };
  /** Nodes as messages with their chunks, asked of the index once for all of them (a call to the owner on other replicas). */
  const pbMany = async (caller: Caller, nodes: readonly NodeModel[], chunkLimit: number) => {
    if (nodes.length === 0) return [];
    let chunks: NodeChunks[] | undefined;
    try {
      chunks = await deps.chunkIndex.nodeChunks(caller, nodes.map((n) => n.id), chunkLimit);
    } catch (err) {
      // The chunk owner cannot be reached (a failover): nodes are still answered, from memory, without their chunks.
      if (!(err instanceof UnavailableError)) throw err;
    }
    return nodes.map((n, i) => withChunks(n, chunks?.[i] ?? NO_CHUNKS));
  };
  const pb = async (caller: Caller, node: NodeModel) => (await pbMany(caller, [node], CHUNKS_IN_LISTS))[0];
  return {
    async registerNode(req, ctx) {
      deps.chunks.checkIds(req.availableChunks, "available_chunks");
      const principal = ctx.values.get(principalKey);
      const { node, token } = await registry.register(registrationFromProto(req), {
        kind: "rest",
        credentialed: registersWithCredential(principal),
        anonymous: registersAnonymously(principal),
        certNames: ctx.values.get(peerKey)?.certNames,
      });
      // Reported (and read back) as the node itself: registering made the caller that node (the owner's guard checks it again).
      const caller = { principal: { kind: "node" as const, nodeId: node.id }, address: ctx.values.get(callerKey).address, forwarded: false };
      if (req.availableChunks.length > 0) await deps.chunkIndex.reportFull(caller, node.id, req.availableChunks.map((id) => ({ id, size: 0 })));
      return {
        message: "Node registered successfully",
        node: await pb(caller, node),
        nodeId: node.id,
        nodeToken: token,
        controlPlaneUrl: deps.publicUrl ?? urlFromRequest(ctx),
      };
    },
    async listNodes(req, ctx) {
      const page = registry.list({
        status: statusFromProto(req.status, "status"),
        labelSelector: req.labelSelector,
        tag: req.tag,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { nodes: await pbMany(ctx.values.get(callerKey), page.nodes, CHUNKS_IN_LISTS), count: page.count, nextPageToken: page.nextPageToken };
    },
    async getNode(req, ctx) {
      return { node: (await pbMany(ctx.values.get(callerKey), [registry.get(req.nodeId)], CHUNKS_IN_GET))[0] };
    },
    getNodeMetricsHistory(req) {
      // NotFound for an unknown node, rather than an empty history.
      registry.get(req.nodeId);
      const since = req.since ? timestampDate(req.since) : undefined;
      const samples = deps.history.samples(req.nodeId, since).map((s) =>
        create(NodeMetricsSampleSchema, {
          time: timestampFromDate(s.at),
          cpuUsage: s.cpuUsage,
          memUsage: s.memUsage,
          load1: s.load1,
          memoryUsedMb: s.memoryUsedMb,
          diskFreeMb: s.diskFreeMb,
          activeConnections: s.activeConnections,
        }),
      );
      return { samples };
    },
    async heartbeat(req) {
      const node = await registry.heartbeat(req.nodeId, metricsFromHeartbeat(req));
      return { status: "ok", timestamp: Date.now() / 1000, nodeStatus: statusToProto(node.status) };
    },
    async setNodeEligibility(req, ctx) {
      return { node: await pb(ctx.values.get(callerKey), await registry.setEligibility(req.nodeId, eligibilityFromProto(req.eligibility, "eligibility"))) };
    },
    async drainNode(req, ctx) {
      return { node: await pb(ctx.values.get(callerKey), await registry.drain(req.nodeId, req.cancel)) };
    },
    async deleteNode(req) {
      await registry.delete(req.nodeId);
      return {};
    },
    listNodeSummaries(req) {
      const page = registry.list({ labelSelector: "", tag: "", pageSize: req.pageSize, pageToken: req.pageToken });
      const items = page.nodes.map((n) =>
        create(NodeSummarySchema, {
          id: n.id,
          name: n.name,
          address: n.address,
          labels: n.labels,
          capacity: { cpu: n.capabilities.cpuCount, memory: n.capabilities.memMb },
          status: n.status === "online" ? (n.eligibility === "eligible" ? "ready" : "not-ready") : "not-ready",
          lastHeartbeat: ts(n.lastHeartbeatAt),
        }),
      );
      return { items, nextPageToken: page.nextPageToken };
    },
  };
}

/** The control plane's URL as the caller reached it (behind a proxy, as the proxy says). */
function urlFromRequest(ctx: HandlerContext): string {
  const url = new URL(ctx.url);
  const proto = ctx.requestHeader.get("x-forwarded-proto") ?? url.protocol.replace(":", "");
  const host = ctx.requestHeader.get("x-forwarded-host") ?? url.host;
  return `${proto}://${host}`;
}
