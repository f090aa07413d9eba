import type { ServiceImpl } from "@connectrpc/connect";
import type { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import type { AgentStreamHandler } from "../sessions/grpc-agent-stream.js";
import { peerKey, rpcLoggerKey } from "../rpc/context.js";
import { bearerToken } from "../rpc/credentials.js";
import { ts } from "../rpc/node-convert.js";

/** What the AgentService handlers need. */
export interface AgentServiceDeps {
  registry: NodeRegistry;
  agentStream: AgentStreamHandler;
}

/** AgentService: the agent stream, and the agent list in seed 002's shape. */
export function createAgentService(deps: AgentServiceDeps): ServiceImpl<typeof AgentService> {
  return {
    // Agent streams that connect-node serves (Connect protocol, compressed or deadlined gRPC);
    // plain gRPC ones take the fast path (src/rpc/grpc-fast-stream.ts) to the same handler.
    agentStream: (requests, ctx) =>
      deps.agentStream(requests, { signal: ctx.signal, bearer: bearerToken(ctx.requestHeader), peer: ctx.values.get(peerKey), logger: ctx.values.get(rpcLoggerKey) }),
    listAgents(req) {
      const page = deps.registry.list({ labelSelector: "", tag: "", pageSize: req.pageSize, pageToken: req.pageToken });
      const agents = page.nodes.map((n) => ({
        id: n.id,
        hostname: n.name,
        ipAddress: n.address,
        status: n.status,
        lastSeen: ts(n.lastHeartbeatAt),
        version: n.agentVersion,
        architecture: n.capabilities.arch,
      }));
      return { agents, total: page.count, nextPageToken: page.nextPageToken };
    },
  };
}
