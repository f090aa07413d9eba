import type { Interceptor, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { rpcLoggerKey } from "./context.js";
import { lazyRpcLogger, reportFailure, requestIdSource } from "./rpc-log.js";

/**
 * The one boundary every RPC passes: gives it a child logger (method, request
 * id), maps thrown domain errors to Connect codes, and logs each failure once,
 * here: expected failures at debug level with their code, unexpected ones at
 * error level with the stack. Successful calls are logged at debug level, to
 * keep the hot path (heartbeats) quiet at the default level.
 */
export function boundaryInterceptor(root: Logger): Interceptor {
  const requestId = requestIdSource();
  return (next) => async (req) => {
    const started = performance.now();
    const logger = lazyRpcLogger(root, `${req.service.typeName}/${req.method.name}`, requestId(req.header.get("x-request-id")));
    req.contextValues.set(rpcLoggerKey, logger);
    const fail = (err: unknown): never => {
      throw reportFailure(root, logger, err, started);
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
