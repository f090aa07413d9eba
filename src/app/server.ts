import { createContextValues, createRouterTransport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { hostname } from "node:os";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { createGateway } from "../gateway/gateway.js";
import { createMetricsEndpoint } from "../metrics/metrics-endpoint.js";
import { peerKey } from "../rpc/context.js";
import { bearerToken } from "../rpc/credentials.js";
import { createGrpcFastPath, fastMethod } from "../rpc/grpc-fast-path.js";
import { fastStream } from "../rpc/grpc-fast-stream.js";
import { applyCors } from "../server/cors.js";
import { createRequestScreen, type Refusal } from "../server/request-screen.js";
import { createOnePortServer, type OnePortServer } from "../server/one-port-server.js";
import { chunkLocations } from "../services/chunk-index-service.js";
import { createWebSocketGateway } from "../sessions/ws/ws-gateway.js";
import { peerOf } from "../shared/peer.js";
import { version } from "../shared/version.js";
import type { Database } from "../store/database.js";
import type { BuiltApp } from "./build-app.js";
import { createRoutes, routerOptions, rpcInterceptors, SERVICES } from "./routes.js";

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

/** The one-port server of a built app, not yet listening. */
export interface AppServer {
  /** Listens; port 0 picks a free port. Resolves with the port in use. */
  listen(port: number, host?: string): Promise<number>;
  /** Tells every WebSocket agent the server is going away, and takes no more. */
  closeWebSockets(): void;
  /** Stops accepting; calls in flight get until the deadline to finish. */
  close(deadlineMs: number): Promise<void>;
}

const RPC_PATH = /^\/[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.[A-Z][A-Za-z0-9]*\/[A-Z][A-Za-z0-9]*$/;

/**
 * Everything that faces the network, over a built app's parts: the Connect
 * adapter (gRPC, gRPC-Web, Connect), the gRPC fast paths, the REST gateway,
 * the WebSocket agents, CORS and TLS, all on one port. Creating it opens
 * nothing; listen() does.
 */
export function createServer(app: BuiltApp): AppServer {
  const { config, logger, pipeline } = app;
  const routes = createRoutes(app.handlers);
  const interceptors = rpcInterceptors(pipeline, app.tokens);
  const options = routerOptions(interceptors, config.limits.maxMessageBytes);
  // GRPC_FAST_PATHS=0: every call goes to connect-node.
  const fast = config.grpcFastPaths ? createGrpcFastPath({
    unary: [fastMethod(ChunkIndexService.method.getChunkLocations, (req, _principal, caller) => chunkLocations(app.handlers.chunkIndex, caller, req))],
    streams: [
      fastStream(AgentService.method.agentStream, (requests, call) =>
        app.agentStream(requests, { signal: call.signal, bearer: bearerToken(call.header), peer: call.peer, logger: call.logger }),
      ),
    ],
    pipeline,
    maxMessageBytes: config.limits.maxMessageBytes,
    shutdown: app.shutdown.signal,
  }) : undefined;
  const connect = connectNodeAdapter({
    ...options,
    routes,
    contextValues: (req) => createContextValues().set(peerKey, peerOf(req)),
    // The longest timer Node can set: a larger grpc-timeout is refused, not silently turned into 1 ms.
    maxTimeoutMs: 2 ** 31 - 1,
    shutdownSignal: app.shutdown.signal,
    // gzip costs more CPU than it saves bandwidth on a control plane's network; keep it for
    // the rare huge answer (a fleet-wide list), not for every location batch.
    compressMinBytes: 1 << 20,
  });
  const gateway = createGateway({
    services: SERVICES,
    // In-process, through the same interceptors: REST calls are checked, mapped and logged like RPCs.
    transport: createRouterTransport(routes, { router: options }),
    maxBodyBytes: config.limits.maxMessageBytes,
    logger,
    info: { title: "Capstan", version },
    dashboardDir: config.dashboardDir,
  });
  // METRICS=off: no endpoint, and /metrics is the 404 of any unknown path.
  const metrics = app.metrics && createMetricsEndpoint(app.metrics.registry, pipeline);
  const ws = createWebSocketGateway({
    gate: app.gate, registry: app.registry, sessions: app.sessions, jobs: app.jobs, logger, pipeline, heartbeatIntervalMs: app.heartbeatIntervalMs,
  });
  // Before anything else: calls a web page could make on a victim's behalf (cross-site, DNS rebinding).
  const screen = createRequestScreen({
    allowedHosts: config.allowedHosts,
    ownNames: [config.host, hostname(), ...(config.publicUrl ? [new URL(config.publicUrl).hostname] : [])],
    corsOrigins: config.corsOrigins,
    tls: config.tls !== undefined,
  });
  const server: OnePortServer = createOnePortServer({
    handler: (req, res) => {
      const refused = screen(req);
      if (refused) return refuse(res, refused);
      if (applyCors(config.corsOrigins, req, res)) return;
      // RPC paths (/package.Service/Method) skip the REST router: the hot path stays Connect's own.
      if (RPC_PATH.test(req.url ?? "")) {
        if (fast?.handles(req)) return fast.serve(req as Http2ServerRequest, res as Http2ServerResponse);
        return connect(req, res);
      }
      if (metrics?.(req, res)) return;
      gateway.handle(req, res).then(
        (handled) => handled || connect(req, res),
        (err: unknown) => {
          logger.error({ err }, "gateway failed");
          if (!res.headersSent) res.writeHead(500).end();
        },
      );
    },
    upgrade: (req, socket, head) => {
      const refused = screen(req);
      if (!refused) return ws.handleUpgrade(req, socket, head);
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${refused.message}\n`);
      return true;
    },
    tls: config.tls && { ...config.tls, clientCa: config.auth.clientCa },
    trustedProxies: config.trustedProxies,
    logger,
  });
  return {
    listen: (port, host) => server.listen(port, host),
    closeWebSockets: () => ws.close(),
    close: (deadlineMs) => server.close(deadlineMs),
  };
}

/** Answers a request the screen turned away, as the REST gateway answers errors. */
function refuse(res: Http2ServerResponse | ServerResponse, refusal: Refusal): void {
  const text = JSON.stringify({ code: refusal.code, message: refusal.message, details: [], detail: refusal.message });
  (res as ServerResponse).writeHead(refusal.status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The listen step: serves a built app on the configured host and port. If the
 * port cannot be had, the built app is stopped (its database closed) before
 * the error goes on, so a failed start leaves nothing running.
 */
export async function listen(app: BuiltApp<Database>): Promise<App> {
  const { config, logger } = app;
  let server: AppServer;
  let port: number;
  try {
    server = createServer(app);
    port = await server.listen(config.port, config.host);
  } catch (err) {
    await app.stop();
    throw err;
  }
  const url = `${config.tls ? "https" : "http"}://127.0.0.1:${port}`;
  logger.info({ port, url, database: app.db.provider, version }, "capstan listening");
  return { port, url, db: app.db, close: () => shutDown(app, server) };
}

/**
 * Graceful shutdown, in an order that loses no work:
 * 0. the leader lease is released (a handover: the next leader needs no expiry);
 * 1. health turns NOT_SERVING, so balancers stop sending new calls;
 * 2. WebSocket agents, then every agent session, are closed, with a reason
 *    the agents can read, rather than cut when the sockets go;
 * 3. the shutdown signal aborts what waits on it (streams, long polls);
 * 4. the server stops accepting and gives calls in flight until the deadline;
 * 5. only then do the background parts stop and the database close, since
 *    calls in flight still use them (and the audit trail's last flush must
 *    see every call).
 */
async function shutDown(app: BuiltApp<Database>, server: AppServer): Promise<void> {
  // Leadership first: another replica takes the lease on its next try instead of when it expires.
  await app.leadership.stop();
  app.health.shutdown();
  server.closeWebSockets();
  app.sessions.closeAll("server shutting down");
  app.shutdown.abort();
  await server.close(app.config.shutdownTimeoutMs);
  await app.stop();
  app.logger.info("capstan stopped");
}
