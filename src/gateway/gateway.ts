import { fromJson, type DescMethodServerStreaming, type DescService, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import { SLICE_SIZE, SliceTurns, streamAllPages } from "./all-pages.js";
import { createDashboardPages } from "./dashboard-pages.js";
import { serveDocs } from "./docs-pages.js";
import { errorBody, httpStatus } from "./http-errors.js";
import { readBindings, type HttpBinding } from "./http-rules.js";
import { normalizeInput, renderJson } from "./json-dialect.js";
import { buildOpenApi } from "./openapi.js";
import { decodeRequest } from "./request-decoder.js";
import { streamSse } from "./sse.js";
import { GATEWAY_PEER_HEADER, GATEWAY_SLICE_HEADER, peerOf } from "../shared/peer.js";
import { INDEX_HEADER, MIN_INDEX_HEADER } from "../shared/write-index.js";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Gateway settings. */
export interface GatewayOptions {
  services: readonly DescService[];
  /** In-process transport to the same handlers and interceptors gRPC clients reach. */
  transport: Transport;
  logger: Logger;
  /** Larger bodies get 413. Default 4 MiB. */
  maxBodyBytes?: number;
  info?: { title: string; version: string };
  /** Where the dashboard's bundle is (default: dist/ui of this checkout). */
  dashboardDir?: string;
}

/** The REST face of the RPCs. */
export interface Gateway {
  /** Serves the request if a REST binding or a docs path matches; false lets the caller go on. */
  handle(req: Req, res: Res): Promise<boolean>;
  /** The OpenAPI 3.1 document. */
  openApi(): Record<string, unknown>;
  /** Every binding: method, path, RPC. */
  routes(): Array<{ method: string; path: string; rpc: string }>;
}

// Headers an RPC may see; hop-by-hop and body framing headers stay behind.
const FORWARD = [MIN_INDEX_HEADER, "authorization", "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "user-agent", "x-capstan-node-token"];

/**
 * JSON over HTTP on every path the protos annotate with google.api.http,
 * transcoded onto the same RPCs: the request becomes the RPC's message and is
 * sent through an in-process transport, so validation, auth, logging and
 * error mapping are those of gRPC and Connect calls.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const bindings = readBindings(options.services).sort((a, b) => b.template.literals - a.template.literals);
  const byVerb = new Map<string, HttpBinding[]>();
  for (const b of bindings) byVerb.set(b.verb, [...(byVerb.get(b.verb) ?? []), b]);
  const maxBody = options.maxBodyBytes ?? 4 << 20;
  const turns = new SliceTurns();
  let openApi: Record<string, unknown> | undefined;
  const doc = () => (openApi ??= buildOpenApi(bindings, options.info ?? { title: "Capstan", version: "0.0.0" }));
  const dashboard = createDashboardPages(options.dashboardDir);

  async function call(binding: HttpBinding, params: Record<string, string>, url: URL, req: Req, res: Res): Promise<void> {
    const body = binding.body === "" ? undefined : await readJson(req, maxBody);
    // ?index= is Nomad's spelling of Capstan-Min-Index: a header for the pipeline, not a field.
    const minIndex = url.searchParams.get("index");
    url.searchParams.delete("index");
    const input = binding.method.input;
    const json = normalizeInput(input, decodeRequest(binding, params, url.searchParams, body));
    // A reconnecting EventSource resumes from the last event it saw.
    const lastEventId = req.headers["last-event-id"];
    if (binding.sse?.lastEventIdField && typeof lastEventId === "string" && lastEventId !== "" && json && typeof json === "object" && !Array.isArray(json)) {
      (json as Record<string, JsonValue>)[binding.sse.lastEventIdField] = lastEventId;
    }
    let message;
    try {
      message = fromJson(input, json, { ignoreUnknownFields: false });
    } catch (err) {
      throw new ConnectError((err as Error).message.replace(/^cannot decode message \S+ from JSON: /, "invalid request: "), Code.InvalidArgument);
    }
    const header = new Headers();
    for (const name of FORWARD) {
      const v = req.headers[name];
      if (typeof v === "string") header.set(name, v);
    }
    // The in-process call has no host of its own; handlers that build URLs need the caller's.
    const host = req.headers.host ?? req.headers[":authority"];
    if (!header.has("x-forwarded-host") && typeof host === "string") header.set("x-forwarded-host", host);
    if (!header.has("x-forwarded-proto")) header.set("x-forwarded-proto", "encrypted" in req.socket && req.socket.encrypted ? "https" : "http");
    // In-process calls have no socket: the caller's address and certificate travel in this header,
    // which only these calls can carry (see rpc/credentials.ts).
    header.set(GATEWAY_PEER_HEADER, JSON.stringify(peerOf(req)));
    if (minIndex !== null) header.set(MIN_INDEX_HEADER, minIndex);
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    if (binding.sse) {
      await streamSse({
        res, transport: options.transport, method: binding.method as DescMethodServerStreaming, message, header, signal: controller.signal,
        eventIdPath: binding.sse.eventIdPath, render: (schema, m) => renderJson(schema, m as never, binding.camelCase),
      });
      return;
    }
    const paging = message as unknown as { pageSize?: number; pageToken?: string };
    if (binding.allPages && !paging.pageSize && !paging.pageToken) {
      // A seed client's unpaged list: every item, fetched and written a slice at a time.
      await streamAllPages({
        res,
        status: binding.successCode,
        shape: binding.allPages,
        camelCase: binding.camelCase,
        turns,
        fetch: async (pageToken) => {
          const slice = { ...message, pageSize: SLICE_SIZE, pageToken };
          // The request was counted against the rate limit at its first slice.
          if (pageToken !== "") header.set(GATEWAY_SLICE_HEADER, "1");
          return (await options.transport.unary(binding.method as never, controller.signal, undefined, header, slice as never)).message as never;
        },
        render: (out) => renderJson(binding.method.output, out as never, binding.camelCase),
      });
      return;
    }
    const out = await options.transport.unary(binding.method as never, controller.signal, undefined, header, message as never);
    const index = out.header.get(INDEX_HEADER);
    send(res, binding.successCode, renderJson(binding.method.output, out.message as never, binding.camelCase), index === null ? {} : { [INDEX_HEADER]: index });
  }

  return {
    async handle(req, res) {
      // Prefixed, not resolved against a base: "//x" would otherwise parse as a host, or fail.
      const url = new URL(`http://gateway${(req.url ?? "/").startsWith("/") ? req.url : `/${req.url}`}`);
      const verb = (req.method ?? "GET").toUpperCase();
      if (verb === "GET" && serveDocs(url.pathname, res, doc)) return true;
      if ((verb === "GET" || verb === "HEAD") && dashboard(url.pathname, req, res)) return true;
      const candidates = byVerb.get(verb === "HEAD" ? "GET" : verb) ?? [];
      let found: { binding: HttpBinding; params: Record<string, string> } | undefined;
      for (const binding of candidates) {
        const params = binding.template.match(url.pathname);
        if (params) {
          found = { binding, params };
          break;
        }
      }
      if (!found) return false;
      try {
        await call(found.binding, found.params, url, req, res);
      } catch (err) {
        const ce = err instanceof HttpError ? err : ConnectError.from(err);
        if (ce instanceof HttpError) send(res, ce.status, { code: ce.code, message: ce.message, details: [], detail: ce.message });
        else {
          // A client that went away mid-request is not a server failure.
          if (res.destroyed || req.destroyed) options.logger.debug({ err, path: url.pathname }, "REST client went away");
          else if (ce.code === Code.Internal || ce.code === Code.Unknown) options.logger.error({ err, path: url.pathname }, "REST call failed");
          const headers: Record<string, string> = {};
          const retry = ce.metadata.get("retry-after");
          if (retry) headers["retry-after"] = retry;
          send(res, httpStatus(ce.code), errorBody(ce), headers);
        }
      }
      return true;
    },
    openApi: doc,
    routes: () => bindings.map((b) => ({ method: b.verb, path: b.template.source, rpc: `${b.service.typeName}/${b.method.name}` })),
  };
}

/** A plain HTTP failure (body too large, not JSON) that never reached an RPC. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  (res as ServerResponse).writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads a JSON body up to the limit; an empty body is undefined. */
async function readJson(req: Req, limit: number): Promise<JsonValue | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, "resource_exhausted", `request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, "resource_exhausted", `request body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  // Only a JSON type, or none (what clients that set nothing send): a page on another site can
  // POST text/plain or form bodies without a CORS preflight, never application/json.
  const type = req.headers["content-type"]?.trim();
  if (type && !isJsonType(type)) {
    throw new HttpError(415, "invalid_argument", `request body must be JSON: send it with Content-Type: application/json (not ${type.slice(0, 80)})`);
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new HttpError(400, "invalid_argument", `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** application/json, or a JSON-based type such as application/merge-patch+json, with any parameters. */
export function isJsonType(contentType: string): boolean {
  return /^\s*application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(contentType);
}
