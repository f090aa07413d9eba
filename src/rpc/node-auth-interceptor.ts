import type { Interceptor } from "@connectrpc/connect";
import type { AgentGate } from "../agents/agent-gate.js";
import { bearerToken } from "../agents/grpc-agent-stream.js";
import type { NodeRegistry } from "../domain/node-registry.js";

/** RPCs a node makes about itself: the node token of the request's node_id is required. */
const NODE_SCOPED = new Set([
  "capstan.v1.NodeService/Heartbeat",
  "capstan.v1.ChunkIndexService/ReportChunks",
  "capstan.v1.ChunkIndexService/UpdateChunks",
  "capstan.v1.ChunkIndexService/PullCommands",
  "capstan.v1.ChunkIndexService/AckCommand",
]);
const REGISTER = "capstan.v1.NodeService/RegisterNode";

/**
 * Node credentials on unary RPCs, once a join token is configured:
 * RegisterNode needs the join token (or, to re-register, the node's own
 * token) as a bearer token; a node's own RPCs need that node's token. Without
 * a join token (development mode) they are open, which is also how clients
 * that cannot send a token (seed 004's cache nodes) are served.
 */
export function nodeAuthInterceptor(gate: AgentGate, registry: NodeRegistry): Interceptor {
  return (next) => async (req) => {
    if (gate.open || req.stream) return next(req);
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const token = bearerToken(req.header);
    if (rpc === REGISTER) {
      const nodeId = String((req.message as { nodeId?: string }).nodeId ?? "");
      const own = nodeId !== "" && token !== "" && registry.all().some((n) => n.id === nodeId);
      if (own) {
        try {
          registry.authenticate(nodeId, token);
          return next(req);
        } catch {
          // not the node's own token: it must be the join token
        }
      }
      gate.checkJoinToken(token);
    } else if (NODE_SCOPED.has(rpc)) {
      registry.authenticate(String((req.message as { nodeId?: string }).nodeId ?? ""), token);
    }
    return next(req);
  };
}
