import type { DescService } from "@bufbuild/protobuf";
import { createContextValues, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { setMaxListeners } from "node:events";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { SystemService } from "../../gen/proto/capstan/v1/system_service_pb.js";
import { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import { AgentGate } from "../sessions/agent-gate.js";
import { Dispatcher } from "../managers/dispatcher.js";
import { createAgentStreamHandler } from "../sessions/grpc-agent-stream.js";
import { JobEvents } from "../managers/job-events.js";
import { SessionRegistry } from "../sessions/session-registry.js";
import { createWebSocketGateway } from "../sessions/ws/ws-gateway.js";
import type { Config } from "../config/config.js";
import { ChunkIndex } from "../chunks/chunk-index.js";
import { ChunkManager } from "../managers/chunk-manager.js";
import { AuditLog } from "../managers/audit-log.js";
import { DeploymentManager } from "../managers/deployment-manager.js";
import { LivenessMonitor } from "../managers/liveness-monitor.js";
import { NodeRegistry } from "../managers/node-registry.js";
import { ProjectManager } from "../managers/project-manager.js";
import { ServiceManager } from "../managers/service-manager.js";
import { ServiceReconciler } from "../managers/service-reconciler.js";
import { TokenManager } from "../managers/token-manager.js";
import { clusterSnapshot } from "../orchestrator/cluster-view.js";
import { createGateway } from "../gateway/gateway.js";
import { accessPolicy } from "../rpc/access-policy.js";
import { boundaryInterceptor } from "../rpc/boundary-interceptor.js";
import { peerKey } from "../rpc/context.js";
import { CallGuard } from "../rpc/call-guard.js";
import { guardInterceptor } from "../rpc/guard-interceptor.js";
import { createGrpcFastPath, fastMethod } from "../rpc/grpc-fast-path.js";
import { fastStream } from "../rpc/grpc-fast-stream.js";
import { bearerToken } from "../rpc/credentials.js";
import { applyCors } from "../server/cors.js";
import { HealthState, registerHealth } from "../server/health.js";
import { createOnePortServer, type OnePortServer } from "../server/one-port-server.js";
import { peerOf } from "../shared/peer.js";
import { createShutdownSignal } from "../server/shutdown-signal.js";
import { registerReflection } from "../server/reflection.js";
import { createAuditService } from "../services/audit-service.js";
import { createTokenService } from "../services/token-service.js";
import { createAgentService } from "../services/agent-service.js";
import { chunkLocations, createChunkIndexService } from "../services/chunk-index-service.js";
import { createDeploymentService } from "../services/deployment-service.js";
import { createNodeService } from "../services/node-service.js";
import { createSystemService } from "../services/system-service.js";
import { DeploymentState } from "../state/deployment-state.js";
import { JobState } from "../state/job-state.js";
import { NodeState } from "../state/node-state.js";
import { ServiceState } from "../state/service-state.js";
import { openDatabase, type Database } from "../store/database.js";
import { version } from "../shared/version.js";

/** The running control plane, as main.ts and the end-to-end tests see it. */
export interface App {
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  /** http(s)://127.0.0.1:port */
  readonly url: string;
  readonly db: Database;
  /** Graceful shutdown: stop accepting, finish in-flight calls, close streams, close the database. */
  close(): Promise<void>;
}

const RPC_PATH = /^\/[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.[A-Z][A-Za-z0-9]*\/[A-Z][A-Za-z0-9]*$/;

/** The services Capstan serves, for reflection and the REST gateway. */
export const SERVICES: readonly DescService[] = [NodeService, DeploymentService, ChunkIndexService, AgentService, TokenService, AuditService, SystemService];

/** What the app does besides logging. */
export interface AppIo {
  /** Shows a line to the operator once, outside the logs (the bootstrap admin token). Default: stderr. */
  announce?: (line: string) => void;
}

/**
 * The composition root: builds every part from the configuration and wires
 * them together. There are no module-level singletons; two Apps in one
 * process (as the tests start) share nothing.
 */
export async function startApp(config: Config, logger: Logger, io: AppIo = {}): Promise<App> {
  const startedAt = Date.now();
  const db = await openDatabase(config.databaseUrl, logger);
  // Every in-flight call listens to the shutdown signal; thousands may be in flight.
  const shutdown = createShutdownSignal();
  setMaxListeners(0, shutdown.signal);
  const stops: Array<() => Promise<void> | void> = [];
  try {
    const tokens = new TokenManager(db.tokens, logger);
    await tokens.load();
    const bootstrapSecret = await tokens.bootstrap(config.auth.adminToken);
    if (bootstrapSecret) {
      // Straight to the operator, never through the logger: secrets must not reach log storage.
      (io.announce ?? ((line) => process.stderr.write(`${line}\n`)))(
        `capstan: bootstrap admin token (shown once, store it now): ${bootstrapSecret}`,
      );
    }
    const audit = new AuditLog(db.audit, logger);
    stops.push(() => audit.flush());
    const nodeState = new NodeState();
    nodeState.load(await db.nodes.listAll());
    const registry = new NodeRegistry({ store: db.nodes, state: nodeState, logger });
    const liveness = new LivenessMonitor(registry, nodeState, db.nodes, { heartbeatTtlMs: config.heartbeatTtlMs, flushIntervalMs: config.heartbeatFlushMs }, logger);
    await liveness.start();
    stops.push(() => liveness.stop());

    const sessions = new SessionRegistry();
    const events = new JobEvents();
    const jobState = new JobState();
    const dispatcher = new Dispatcher(db.jobs, jobState, sessions, events, logger, { ackTimeoutMs: 10_000, maxAttempts: 5, maxLogChars: config.limits.jobLogBytes });
    await dispatcher.start();
    stops.push(() => dispatcher.stop());

    const deploymentState = new DeploymentState();
    const serviceState = new ServiceState();
    const snapshot = () => clusterSnapshot(nodeState, deploymentState, serviceState);
    const deployments = new DeploymentManager({ store: db.deployments, state: deploymentState, bus: dispatcher, nodes: registry, snapshot, logger });
    await deployments.start();
    const projects = new ProjectManager(deployments, registry, dispatcher);
    const reconciler = new ServiceReconciler(db.services, serviceState, dispatcher, () => registry.all(), snapshot, {
      intervalMs: config.reconcileIntervalMs,
      graceMs: config.replicaGraceMs,
      heartbeatTtlMs: config.heartbeatTtlMs,
      maxParallel: config.maxParallel,
    }, logger);
    await reconciler.start();
    stops.push(() => reconciler.stop());
    const services = new ServiceManager(db.services, serviceState, snapshot, () => reconciler.trigger());
    // Node and job changes can unblock pending work: look again soon.
    nodeState.onChange((change) => {
      if (change.heartbeat) return;
      reconciler.trigger();
      void deployments.retryPending();
    });

    const chunkIndex = new ChunkIndex(config.chunks.replication);
    const chunks = new ChunkManager(chunkIndex, dispatcher, registry, nodeState, db.chunkTargets, {
      heartbeatTtlMs: config.heartbeatTtlMs,
      graceMs: config.replicaGraceMs,
      intervalMs: config.chunks.intervalMs,
      perNodeLimit: config.chunks.perNodeLimit,
      spreadLabel: config.chunks.spreadLabel,
    }, logger);
    await chunks.start();
    stops.push(() => chunks.stop());
    // The index is soft state: every (re)connecting agent is asked for a full report.
    sessions.onAttach((session) => session.send({ kind: "chunk_report_request" }));

    const gate = new AgentGate(registry, { joinToken: config.joinToken, requireClientCert: config.auth.clientCa !== undefined, audit }, logger);
    if (gate.open) logger.warn("CAPSTAN_JOIN_TOKEN is not set: any agent may register (development mode)");
    if (config.auth.dev) logger.warn("CAPSTAN_DEV=1: callers on loopback need no token and may do anything (development only; other addresses still need tokens)");
    if (config.auth.anonymousScopes.size > 0) {
      logger.warn(
        { scopes: [...config.auth.anonymousScopes], networks: config.auth.anonymousNetworksText || "any address" },
        "CAPSTAN_ANONYMOUS_SCOPES: callers without a token are let in with these scopes",
      );
    }
    // A deleted node's token is gone: its live agent stream goes with it.
    nodeState.onChange((change) => {
      if (change.type === "delete") sessions.get(change.node.id)?.close("node deleted");
    });
    const heartbeatIntervalMs = Math.max(100, Math.floor(config.heartbeatTtlMs / 3));
    const agentStream = createAgentStreamHandler({
      gate, registry, sessions, dispatcher, chunks, logger, heartbeatIntervalMs, helloTimeoutMs: 10_000, serverVersion: version,
    });
    const health = new HealthState();

    const routes = (router: ConnectRouter) => {
      router.service(NodeService, createNodeService({ registry, isConnected: (id) => sessions.isConnected(id), publicUrl: config.publicUrl }));
      router.service(AgentService, createAgentService({ registry, agentStream }));
      router.service(DeploymentService, createDeploymentService({ deployments, projects, services, serviceState, snapshot, dispatcher, events }));
      router.service(ChunkIndexService, createChunkIndexService(chunks));
      router.service(TokenService, createTokenService(tokens));
      router.service(AuditService, createAuditService(audit));
      router.service(SystemService, createSystemService({
        version, startedAt, databaseProvider: db.provider, pingDatabase: () => db.ping(), connectedAgents: () => sessions.size,
      }));
      registerHealth(router, health);
      registerReflection(router, [...SERVICES, Health]);
    };
    const guard = new CallGuard({ credentials: { tokens, registry, joinHash: gate.joinHash, auth: config.auth }, registry, tokens, audit, limits: config.limits, policy: accessPolicy(SERVICES) });
    const interceptors: Interceptor[] = [
      boundaryInterceptor(logger),
      guardInterceptor(guard, tokens),
    ];
    const fast = createGrpcFastPath({
      unary: [fastMethod(ChunkIndexService.method.getChunkLocations, (req) => chunkLocations(chunks, req))],
      streams: [
        fastStream(AgentService.method.agentStream, () => guard.acquireAgentStream(), (requests, call) =>
          agentStream(requests, { signal: call.signal, bearer: bearerToken(call.header), peer: call.peer, logger: call.logger }),
        ),
      ],
      guard,
      logger,
      maxMessageBytes: config.limits.maxMessageBytes,
      shutdown: shutdown.signal,
    });
    const connect = connectNodeAdapter({
      routes,
      interceptors,
      contextValues: (req) => createContextValues().set(peerKey, peerOf(req)),
      readMaxBytes: config.limits.maxMessageBytes,
      // The longest timer Node can set: a larger grpc-timeout is refused, not silently turned into 1 ms.
      maxTimeoutMs: 2 ** 31 - 1,
      shutdownSignal: shutdown.signal,
      jsonOptions: { ignoreUnknownFields: false },
      // gzip costs more CPU than it saves bandwidth on a control plane's network; keep it for
      // the rare huge answer (a fleet-wide list), not for every location batch.
      compressMinBytes: 1 << 20,
    });
    const gateway = createGateway({
      services: SERVICES,
      transport: createRouterTransport(routes, { router: { interceptors, jsonOptions: { ignoreUnknownFields: false }, readMaxBytes: config.limits.maxMessageBytes } }),
      maxBodyBytes: config.limits.maxMessageBytes,
      logger,
      info: { title: "Capstan", version },
    });
    const ws = createWebSocketGateway({ gate, registry, sessions, dispatcher, logger, heartbeatIntervalMs });
    const server: OnePortServer = createOnePortServer({
      handler: (req, res) => {
        if (applyCors(config.corsOrigins, req, res)) return;
        // RPC paths (/package.Service/Method) skip the REST router: the hot path stays Connect's own.
        if (RPC_PATH.test(req.url ?? "")) {
          if (fast.handles(req)) return fast.serve(req as Http2ServerRequest, res as Http2ServerResponse);
          return connect(req, res);
        }
        gateway.handle(req, res).then(
          (handled) => handled || connect(req, res),
          (err: unknown) => {
            logger.error({ err }, "gateway failed");
            if (!res.headersSent) res.writeHead(500).end();
          },
        );
      },
      upgrade: (req, socket, head) => ws.handleUpgrade(req, socket, head),
      tls: config.tls && { ...config.tls, clientCa: config.auth.clientCa },
      logger,
    });
    const port = await server.listen(config.port, config.host);
    const url = `${config.tls ? "https" : "http"}://127.0.0.1:${port}`;
    logger.info({ port, url, database: db.provider, version }, "capstan listening");
    return {
      port,
      url,
      db,
      async close() {
        health.shutdown();
        ws.close();
        sessions.closeAll("server shutting down");
        shutdown.abort();
        await server.close(config.shutdownTimeoutMs);
        for (const stop of stops.reverse()) await stop();
        await db.close();
        logger.info("capstan stopped");
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    await db.close();
    throw err;
  }
}
