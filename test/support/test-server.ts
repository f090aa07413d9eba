import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino, type Logger } from "pino";
import { startApp, type App } from "../../src/app/app.js";
import { loadConfig } from "../../src/config/config.js";
import { REDACT_PATHS } from "../../src/shared/logger.js";

/** A running Capstan on a free port, and transports for each protocol. */
export interface TestServer {
  app: App;
  url: string;
  /** gRPC over h2c. */
  grpc: ReturnType<typeof createGrpcTransport>;
  /** Connect JSON over HTTP/1.1. */
  connect: ReturnType<typeof createConnectTransport>;
  /** gRPC-Web over HTTP/1.1. */
  grpcWeb: ReturnType<typeof createGrpcWebTransport>;
  /** The same transports, sending `Authorization: Bearer <token>` unless a call sets its own. */
  withToken(token: string): Pick<TestServer, "grpc" | "connect" | "grpcWeb">;
  logs: string[];
  /** What the server showed the operator outside the logs (the bootstrap admin token). */
  announcements: string[];
  stop(): Promise<void>;
}

/**
 * Starts the real server in-process on port 0 with the given environment
 * (DATABASE_URL is required: tests never touch ./data). Logs are captured so
 * tests can search them (e.g. for leaked secrets).
 *
 * By default the server runs in dev mode (CAPSTAN_DEV=1: token-less callers on
 * loopback may do anything) without rate limits (calls, failed authentications), so tests of other features
 * need no tokens; security tests pass CAPSTAN_DEV: "0" and their own limits.
 */
export async function startTestServer(env: Record<string, string>): Promise<TestServer> {
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", CLUSTER_SECRET: "test-cluster-secret-0123456789", LOG_LEVEL: "debug", SHUTDOWN_TIMEOUT: "2s", CAPSTAN_DEV: "1", RATE_LIMIT: "0", AUTH_FAILURE_LIMIT: "0", ...env }, false);
  const logs: string[] = [];
  const logger: Logger = pino(
    { level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    { write: (line: string) => void logs.push(line) },
  );
  const announcements: string[] = [];
  const app = await startApp(config, logger, { announce: (line) => void announcements.push(line) });
  return {
    app,
    url: app.url,
    logs,
    announcements,
    grpc: createGrpcTransport({ baseUrl: app.url }),
    connect: createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", useBinaryFormat: false }),
    grpcWeb: createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1" }),
    withToken(token) {
      const interceptors: Interceptor[] = [
        (next) => (req) => {
          if (!req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ];
      return {
        grpc: createGrpcTransport({ baseUrl: app.url, interceptors }),
        connect: createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", useBinaryFormat: false, interceptors }),
        grpcWeb: createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1", interceptors }),
      };
    },
    stop: () => app.close(),
  };
}
