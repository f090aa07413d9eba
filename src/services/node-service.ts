import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { NodeMetricsSampleSchema, NodeSummarySchema, type NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import type { ChunkManager } from "../managers/chunk-manager.js";
import type { ChunkIndexPort } from "../model/chunk-index-port.js";
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
  /** The chunks a node holds (seed 004), from the chunk index: up to `limit` ids, and the total. */
  chunksHeld: (nodeId: string, limit: number) => { ids: string[]; total: number };
  /** Checks the chunk ids a node registers with (seed 004's `available_chunks`). */
  chunks: Pick<ChunkManager, "checkIds">;
  /** Where they are recorded, as the node's full report (on the chunk owner). */
  chunkIndex: Pick<ChunkIndexPort, "reportFull">;
  /** Recent heartbeat metrics per node. */
  history: Pick<MetricsHistory, "samples">;
}

/** How many of a node's chunk ids a list carries per node, and GetNode carries. */
export const CHUNKS_IN_LISTS = 100;
export const CHUNKS_IN_GET = 10_000;

/** NodeService's handlers: decode, call the registry, encode. */
export function createNodeService(deps: NodeServiceDeps): ServiceImpl<typeof NodeService> {
  const { registry, isConnected } = deps;
  const withChunks = (node: Parameters<typeof nodeToProto>[0], chunkLimit: number) => {
    const out = nodeToProto(node, isConnected(node.id));
    const chunks = deps.chunksHeld(node.id, chunkLimit);
    // Most nodes hold no chunks: their shared message is returned as it is.
    return chunks.total === 0 ? out : { ...out, availableChunks: chunks.ids, chunkCount: chunks.total };
  };
  const pb = (node: Parameters<typeof nodeToProto>[0]) => withChunks(node, CHUNKS_IN_LISTS);
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
      if (req.availableChunks.length > 0) {
        // Reported as the node itself: registering made the caller that node (the owner's guard checks it again).
        const caller = { principal: { kind: "node" as const, nodeId: node.id }, address: ctx.values.get(callerKey).address, forwarded: false };
        await deps.chunkIndex.reportFull(caller, node.id, req.availableChunks.map((id) => ({ id, size: 0 })));
      }
      return {
        message: "Node registered successfully",
        node: pb(node),
        nodeId: node.id,
        nodeToken: token,
        controlPlaneUrl: deps.publicUrl ?? urlFromRequest(ctx),
      };
    },
    listNodes(req) {
      const page = registry.list({
        status: statusFromProto(req.status, "status"),
        labelSelector: req.labelSelector,
        tag: req.tag,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { nodes: page.nodes.map(pb), count: page.count, nextPageToken: page.nextPageToken };
    },
    getNode(req) {
      return { node: withChunks(registry.get(req.nodeId), CHUNKS_IN_GET) };
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
    async setNodeEligibility(req) {
      return { node: pb(await registry.setEligibility(req.nodeId, eligibilityFromProto(req.eligibility, "eligibility"))) };
    },
    async drainNode(req) {
      return { node: pb(await registry.drain(req.nodeId, req.cancel)) };
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
