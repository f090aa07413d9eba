import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";

/** The generated Connect clients the dashboard calls, all over one transport to this origin. */
export interface Api {
  nodes: Client<typeof NodeService>;
  agents: Client<typeof AgentService>;
  deployments: Client<typeof DeploymentService>;
  chunks: Client<typeof ChunkIndexService>;
  tokens: Client<typeof TokenService>;
  audit: Client<typeof AuditService>;
  events: Client<typeof EventService>;
}

/**
 * Clients of the same contract the CLI and agents use (Connect protocol over
 * fetch, JSON), sending the signed-in token as `Authorization: Bearer`.
 * An empty token sends none (a dev-mode server lets loopback callers in).
 */
export function createApi(token: string): Api {
  const auth: Interceptor = (next) => (req) => {
    if (token !== "") req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [auth] });
  return {
    nodes: createClient(NodeService, transport),
    agents: createClient(AgentService, transport),
    deployments: createClient(DeploymentService, transport),
    chunks: createClient(ChunkIndexService, transport),
    tokens: createClient(TokenService, transport),
    audit: createClient(AuditService, transport),
    events: createClient(EventService, transport),
  };
}
