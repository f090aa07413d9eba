import type { ServiceImpl } from "@connectrpc/connect";
import type { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import type { NodeRegistry } from "../domain/node-registry.js";
import type { createAgentStreamHandler } from "../agents/grpc-agent-stream.js";
import { ts } from "../rpc/node-convert.js";

/** What the AgentService handlers need. */
export interface AgentServiceDeps {
  registry: NodeRegistry;
  agentStream: ReturnType<typeof createAgentStreamHandler>;
}

/** AgentService: the agent stream, and the agent list in seed 002's shape. */
export function createAgentService(deps: AgentServiceDeps): ServiceImpl<typeof AgentService> {
  return {
    agentStream: deps.agentStream,
    listAgents() {
      const agents = deps.registry.all().map((n) => ({
        id: n.id,
        hostname: n.name,
        ipAddress: n.address,
        status: n.status,
        lastSeen: ts(n.lastHeartbeatAt),
        version: n.agentVersion,
        architecture: n.capabilities.arch,
      }));
      return { agents, total: agents.length };
    },
  };
}
