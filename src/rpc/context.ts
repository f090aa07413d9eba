import { createContextKey } from "@connectrpc/connect";
import type { Logger } from "pino";

/**
 * The per-RPC child logger, set by the logging interceptor. Handlers read it
 * with `ctx.values.get(rpcLogger)`; the default is a logger that drops
 * everything, for handlers called without the interceptor (unit tests).
 */
export const rpcLoggerKey = createContextKey<Logger | undefined>(undefined, { description: "per-RPC logger" });
