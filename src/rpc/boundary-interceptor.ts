import { ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { rpcLoggerKey } from "./context.js";
import { toConnectError } from "./error-mapping.js";

/**
 * The one boundary every RPC passes: gives it a child logger (method, request
 * id), maps thrown domain errors to Connect codes, and logs each failure once,
 * here: expected failures at debug level with their code, unexpected ones at
 * error level with the stack. Successful calls are logged at debug level, to
 * keep the hot path (heartbeats) quiet at the default level.
 */
export function boundaryInterceptor(root: Logger): Interceptor {
  // Request ids: a random prefix per process and a counter, unique without a UUID per call.
  const prefix = randomUUID().slice(0, 8);
  let counter = 0;
  return (next) => async (req) => {
    const started = performance.now();
    const requestId = req.header.get("x-request-id") || `${prefix}-${(++counter).toString(36)}`;
    let child: Logger | undefined;
    const logger = () => (child ??= root.child({ rpc: `${req.service.typeName}/${req.method.name}`, requestId }));
    req.contextValues.set(rpcLoggerKey, logger);
    const fail = (err: unknown): never => {
      const { error, expected } = toConnectError(err);
      const ms = Math.round(performance.now() - started);
      if (!expected) logger().error({ err, ms }, "rpc failed unexpectedly");
      else if (root.isLevelEnabled("debug")) logger().debug({ code: ConnectError.from(error).code, ms, error: error.rawMessage }, "rpc failed");
      throw error;
    };
    try {
      const res = await next(req);
      if (res.stream) return wrapStream(res, fail);
      if (root.isLevelEnabled("debug")) logger().debug({ ms: Math.round(performance.now() - started) }, "rpc done");
      return res as UnaryResponse;
    } catch (err) {
      return fail(err);
    }
  };
}

function wrapStream(res: StreamResponse, fail: (err: unknown) => never): StreamResponse {
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      try {
        yield* inner;
      } catch (err) {
        fail(err);
      }
    })(),
  };
}
