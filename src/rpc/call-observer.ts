import type { Code } from "@connectrpc/connect";

/**
 * Told of every call's end by the call pipeline, on every entry path:
 * `rpc` is "capstan.v1.NodeService/Heartbeat" (or a non-proto endpoint such
 * as "GET /metrics"), `code` 0 for success, `startedAt` the call's
 * performance.now() at its start. Called on the hot path: it must be cheap
 * and must not throw.
 */
export type CallObserver = (rpc: string, code: Code | 0, startedAt: number) => void;
