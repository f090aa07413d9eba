import { ConnectError } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { StoreUnavailableError } from "../model/errors.js";
import { toConnectError } from "./error-mapping.js";

/**
 * Request ids for calls that bring no x-request-id: a random prefix per
 * source and a counter, unique without a UUID per call.
 */
export function requestIdSource(): (given: string | null | undefined) => string {
  const prefix = randomUUID().slice(0, 8);
  let counter = 0;
  return (given) => given || `${prefix}-${(++counter).toString(36)}`;
}

/**
 * A call's child logger (method and request id bound), made on first use:
 * most calls never log, and a pino child serialises its bindings.
 */
export function lazyRpcLogger(root: Logger, rpc: string, requestId: string): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= root.child({ rpc, requestId }));
}

/**
 * Maps a failed call's error to the ConnectError it answers with, and logs
 * it, once: expected failures at debug level with their code, unexpected ones
 * at error level with the stack. A call the database could not take is a
 * fault of ours the client can retry: logged at warn level with the driver's
 * reason, once, here. Every entry path (the Connect interceptor, the gRPC
 * fast paths) reports through this.
 */
export function reportFailure(root: Logger, logger: () => Logger, err: unknown, started: number): ConnectError {
  const { error, expected } = toConnectError(err);
  const ms = Math.round(performance.now() - started);
  if (err instanceof StoreUnavailableError) logger().warn({ code: "unavailable", ms, reason: err.reason }, "rpc failed: the database is unavailable");
  else if (!expected) logger().error({ err, ms }, "rpc failed unexpectedly");
  else if (root.isLevelEnabled("debug")) logger().debug({ code: ConnectError.from(error).code, ms, error: error.rawMessage }, "rpc failed");
  return error;
}
