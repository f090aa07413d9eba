import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ConnectRouterOptions, Interceptor } from "@connectrpc/connect";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { ReplicaService } from "../../gen/proto/capstan/v1/replica_service_pb.js";
import { SystemService } from "../../gen/proto/capstan/v1/system_service_pb.js";
import { TaskService } from "../../gen/proto/capstan/v1/task_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import type { AuditLog } from "../managers/audit-log.js";
import type { ChunkManager } from "../managers/chunk-manager.js";
import type { ChunkIndexPort } from "../model/chunk-index-port.js";
import type { Membership } from "../managers/membership.js";
import type { TokenManager } from "../managers/token-manager.js";
import type { CallPipeline } from "../rpc/call-pipeline.js";
import { pipelineInterceptor } from "../rpc/pipeline-interceptor.js";
import { registerHealth, type HealthState } from "../server/health.js";
import { registerReflection } from "../server/reflection.js";
import { createAgentService, type AgentServiceDeps } from "../services/agent-service.js";
import { createAuditService } from "../services/audit-service.js";
import { createChunkIndexService } from "../services/chunk-index-service.js";
import { createDeploymentService, type DeploymentServiceDeps } from "../services/deployment-service.js";
import { createEventService, type EventServiceDeps } from "../services/event-service.js";
import { createNodeService, type NodeServiceDeps } from "../services/node-service.js";
import { createReplicaService } from "../services/replica-service.js";
import { createSystemService, type SystemServiceDeps } from "../services/system-service.js";
import { createTaskService, type TaskServiceDeps } from "../services/task-service.js";
import { createTokenService } from "../services/token-service.js";

/** The services Capstan serves, for reflection, the access policy and the REST gateway. */
export const SERVICES: readonly DescService[] = [NodeService, DeploymentService, TaskService, ChunkIndexService, AgentService, TokenService, AuditService, SystemService, EventService, ReplicaService];

/**
 * What the handlers of every service need, and nothing else: no config, no
 * server, no database. build-app.ts fills it from the wired parts; a unit test
 * can fill it from parts wired over memory stores.
 */
export interface RouteDeps {
  nodes: NodeServiceDeps;
  agents: AgentServiceDeps;
  deployments: DeploymentServiceDeps;
  tasks: TaskServiceDeps;
  chunks: ChunkManager;
  /** The chunk index as calls reach it: this replica's when it owns it, forwarded to the owner otherwise. */
  chunkIndex: ChunkIndexPort;
  tokens: TokenManager;
  audit: AuditLog;
  system: SystemServiceDeps;
  /** The event stream over the change feed; absent (Unimplemented) for stores without a feed. */
  events?: EventServiceDeps;
  /** The control plane's replicas (ReplicaService). */
  replicas: Pick<Membership, "list">;
  /** Serving status for grpc.health.v1; shutdown turns it to NOT_SERVING. */
  health: HealthState;
}

/**
 * Every service's handlers, plus health and reflection, as the routes
 * function Connect takes: the same function feeds the network adapter and the
 * REST gateway's in-process transport, and `createRouterTransport` in tests.
 */
export function createRoutes(deps: RouteDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(NodeService, createNodeService(deps.nodes));
    router.service(AgentService, createAgentService(deps.agents));
    router.service(DeploymentService, createDeploymentService(deps.deployments));
    router.service(TaskService, createTaskService(deps.tasks));
    router.service(ChunkIndexService, createChunkIndexService(deps.chunks, deps.chunkIndex));
    router.service(TokenService, createTokenService(deps.tokens));
    router.service(AuditService, createAuditService(deps.audit));
    router.service(SystemService, createSystemService(deps.system));
    if (deps.events) router.service(EventService, createEventService(deps.events));
    router.service(ReplicaService, createReplicaService(deps.replicas));
    registerHealth(router, deps.health);
    registerReflection(router, [...SERVICES, Health]);
  };
}

/**
 * The interceptors every Connect call passes: one, which enters the call
 * pipeline that the gRPC fast paths enter too (logger, admission, deadline,
 * error mapping, one log line per failure).
 */
export function rpcInterceptors(pipeline: CallPipeline, tokens: TokenManager): Interceptor[] {
  return [pipelineInterceptor(pipeline, tokens)];
}

/**
 * Router options shared by the network adapter and in-process transports, so
 * that a call decodes the same whichever way it arrives: unknown JSON fields
 * are refused (a misspelt field is an error, not a silent default).
 */
export function routerOptions(interceptors: Interceptor[], maxMessageBytes: number): ConnectRouterOptions {
  return { interceptors, jsonOptions: { ignoreUnknownFields: false }, readMaxBytes: maxMessageBytes };
}
