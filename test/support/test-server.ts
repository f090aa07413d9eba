import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino, type Logger } from "pino";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { REDACT_PATHS } from "../../src/logger.js";

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
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Starts the real server in-process on port 0 with the given environment
 * (DATABASE_URL is required: tests never touch ./data). Logs are captured so
 * tests can search them (e.g. for leaked secrets).
 */
export async function startTestServer(env: Record<string, string>): Promise<TestServer> {
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "debug", SHUTDOWN_TIMEOUT: "2s", ...env }, false);
  const logs: string[] = [];
  const logger: Logger = pino(
    { level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    { write: (line: string) => void logs.push(line) },
  );
  const app = await startApp(config, logger);
  return {
    app,
    url: app.url,
    logs,
    grpc: createGrpcTransport({ baseUrl: app.url }),
    connect: createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", useBinaryFormat: false }),
    grpcWeb: createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1" }),
    stop: () => app.close(),
  };
}
