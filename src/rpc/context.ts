import { createContextKey } from "@connectrpc/connect";
import type { Logger } from "pino";

/**
 * The per-RPC child logger (method and request id bound), set by the boundary
 * interceptor. It is made on first use: most calls never log, and making a
 * pino child serialises its bindings. Handlers call
 * `ctx.values.get(rpcLoggerKey)?.()`; it is unset for handlers called without
 * the interceptor (unit tests).
 */
export const rpcLoggerKey = createContextKey<(() => Logger) | undefined>(undefined, { description: "per-RPC logger" });
