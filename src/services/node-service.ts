import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { NodeSummarySchema, type NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import { registersAnonymously } from "../rpc/access-policy.js";
import { principalKey } from "../rpc/context.js";
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
}

/** NodeService's handlers: decode, call the registry, encode. */
export function createNodeService(deps: NodeServiceDeps): ServiceImpl<typeof NodeService> {
  const { registry, isConnected } = deps;
  const pb = (node: Parameters<typeof nodeToProto>[0]) => nodeToProto(node, isConnected(node.id));
  return {
    async registerNode(req, ctx) {
      const { node, token } = await registry.register(registrationFromProto(req), { anonymous: registersAnonymously(ctx.values.get(principalKey)) });
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
      return { node: pb(registry.get(req.nodeId)) };
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
    listNodeSummaries() {
      const items = registry.all().map((n) =>
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
      return { items };
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
