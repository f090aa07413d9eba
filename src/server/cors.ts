import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

const ALLOW_HEADERS = "authorization, content-type, connect-protocol-version, connect-timeout-ms, grpc-timeout, x-grpc-web, x-user-agent, x-request-id, capstan-min-index";
const EXPOSE_HEADERS = "grpc-status, grpc-message, grpc-status-details-bin, connect-content-encoding, retry-after, capstan-index";

/**
 * CORS for browsers calling REST, Connect or gRPC-Web from another origin:
 * only origins listed in CORS_ORIGINS (or all, with "*"); none by default.
 * Returns true when it answered a preflight itself.
 */
export function applyCors(
  origins: readonly string[],
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): boolean {
  const origin = req.headers.origin;
  if (!origin || origins.length === 0 || !(origins.includes("*") || origins.includes(origin))) return false;
  res.setHeader("access-control-allow-origin", origins.includes("*") ? "*" : origin);
  res.setHeader("vary", "origin");
  res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
    res.setHeader("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE");
    res.setHeader("access-control-allow-headers", ALLOW_HEADERS);
    res.setHeader("access-control-max-age", "7200");
    (res as ServerResponse).writeHead(204);
    res.end();
    return true;
  }
  return false;
}
