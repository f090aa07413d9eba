import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Registry } from "prom-client";
import { errorBody, httpStatus } from "../gateway/http-errors.js";
import { METRICS_SCRAPE } from "../rpc/access-policy.js";
import type { CallPipeline } from "../rpc/call-pipeline.js";
import { credentialHeaders } from "../rpc/credentials.js";
import { peerOf } from "../shared/peer.js";

/** Serves GET /metrics; false for any other request. */
export type MetricsEndpoint = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean;

/**
 * GET /metrics in Prometheus' text format. The scrape is a call like any
 * other: it passes the call pipeline as "GET /metrics" (credentials, access
 * policy: read, rate limit, failed-authentication throttle, logging, and its
 * own line in capstan_calls_total), and a refusal answers as the REST
 * gateway does (401, 403, 429 with a JSON body).
 */
export function createMetricsEndpoint(registry: Registry, pipeline: CallPipeline): MetricsEndpoint {
  return (req, res) => {
    const url = req.url ?? "";
    if (url !== "/metrics" && !url.startsWith("/metrics?")) return false;
    const reply = res as ServerResponse;
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("GET /metrics\n");
      return true;
    }
    const call = pipeline.begin(METRICS_SCRAPE, req.headers["x-request-id"] as string | undefined);
    call.unary({ header: credentialHeaders(req), peer: () => peerOf(req), message: {} }, () => registry.metrics()).then(
      (text) => {
        call.succeeded();
        reply.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(text) });
        reply.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        const error = call.failed(err);
        const body = JSON.stringify(errorBody(error));
        const retry = error.metadata.get("retry-after");
        reply.writeHead(httpStatus(error.code), { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), ...(retry ? { "retry-after": retry } : {}) });
        reply.end(body);
      },
    );
    return true;
  };
}
