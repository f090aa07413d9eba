import { create, fromBinary, toBinary, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Caller, Principal } from "../model/principal.js";
import { peerOf } from "../shared/peer.js";
import type { CallPipeline, PipelineCall } from "./call-pipeline.js";
import { INDEX_HEADER } from "../shared/write-index.js";
import { credentialHeaders } from "./credentials.js";
import { FastStreamServer, type FastStream } from "./grpc-fast-stream.js";
import { FrameReader, GRPC_CONTENT_TYPES, grpcFrame, grpcStatusHeaders, respondTrailersOnly } from "./grpc-frames.js";

/** A unary method served on the fast path, and what answers it. */
export interface FastMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: DescMethodUnary<I, O>;
  /** Answers a request; must not need a HandlerContext (nothing on this path builds one). */
  handle(input: MessageShape<I>, principal: Principal, caller: Caller): MessageInitShape<O> | Promise<MessageInitShape<O>>;
}

/** A FastMethod whose handler is typed by its method (a list of them holds mixed types). */
export function fastMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  handle: (input: MessageShape<I>, principal: Principal, caller: Caller) => MessageInitShape<O> | Promise<MessageInitShape<O>>,
): FastMethod {
  return { method, handle } as unknown as FastMethod;
}

/** The fast path, as the server's request handler sees it. */
export interface GrpcFastPath {
  /** Whether this request is one the fast path serves exactly as Connect would; otherwise Connect serves it. */
  handles(req: IncomingMessage | Http2ServerRequest): boolean;
  serve(req: Http2ServerRequest, res: Http2ServerResponse): void;
}

/** What the fast path serves, and with what. */
export interface GrpcFastPathOptions {
  unary: readonly FastMethod[];
  /** Only streams the pipeline opens without admission (agent streams): a stream is opened synchronously. */
  streams: readonly FastStream[];
  pipeline: CallPipeline;
  maxMessageBytes: number;
  /** The server's shutdown signal: open streams end with it. */
  shutdown: AbortSignal;
}

/**
 * A narrow fast path for the hottest calls. connect-node spends about 200 µs
 * of per-call machinery (async-iterable pipeline, abort controller and
 * DOMException per call) on every unary call, which caps any handler near
 * 3,500 calls/s on this project's 2 cores, and keeps about 45 KiB per open
 * stream; a plain HTTP/2 handler costs a tenth of either. So plain,
 * uncompressed, deadline-free binary gRPC calls to the listed methods are
 * served here: unary chunk location lookups (seed 004's nodes ask for every
 * chunk they fetch) and agent streams (one per node, 10,000 at a time).
 *
 * What this does reimplement is gRPC's framing for that one form of call:
 * reading length-prefixed messages (FrameReader), writing the answer and its
 * status (a trailers-only HEADERS frame for errors), and refusing what
 * connect-node refuses with its codes and words. The status itself is written
 * by connect-es' setTrailerStatus, and everything else a call goes through
 * (request id and logger, admission by the CallGuard, RPC_TIMEOUT, error
 * mapping, failure logging, audit) is the CallPipeline that the Connect
 * interceptor uses too. test/e2e/grpc-conformance.e2e.test.ts holds the
 * answers to connect-node's, read by three gRPC implementations. Every other
 * form of call (Connect, gRPC-Web, JSON, compression, grpc-timeout) goes to
 * connect-node; GRPC_FAST_PATHS=0 sends all of them there.
 */
export function createGrpcFastPath(options: GrpcFastPathOptions): GrpcFastPath {
  const { pipeline, maxMessageBytes } = options;
  const pathOf = (m: { method: { name: string; parent: { typeName: string } } }) => `/${m.method.parent.typeName}/${m.method.name}`;
  for (const s of options.streams) {
    if (!pipeline.opensWithoutAdmission(pathOf(s).slice(1))) throw new Error(`${pathOf(s)} needs admission: the fast path serves only streams that authenticate themselves`);
  }
  const unary = new Map(options.unary.map((m) => [pathOf(m), m]));
  const streams = new Map(options.streams.map((m) => [pathOf(m), m]));
  return {
    handles(req) {
      if (req.httpVersionMajor !== 2 || req.method !== "POST") return false;
      const path = req.url ?? "";
      if (!unary.has(path) && !streams.has(path)) return false;
      const h = req.headers;
      return GRPC_CONTENT_TYPES.has(String(h["content-type"])) && (h["grpc-encoding"] === undefined || h["grpc-encoding"] === "identity") && h["grpc-timeout"] === undefined;
    },
    serve(req, res) {
      const call = pipeline.begin(req.url.slice(1), req.headers["x-request-id"] as string | undefined);
      const stream = streams.get(req.url);
      if (stream) {
        new FastStreamServer(stream, req, res, { call, maxMessageBytes, shutdown: options.shutdown });
        return;
      }
      const m = unary.get(req.url) as FastMethod;
      const reader = new FrameReader(maxMessageBytes);
      const messages: Buffer[] = [];
      let refused: unknown;
      const onData = (chunk: Buffer) => {
        try {
          messages.push(...reader.push(chunk));
        } catch (err) {
          // Refused from the frame header: the rest of the body is not buffered.
          refused = err;
          req.off("data", onData);
          req.resume();
        }
      };
      req.on("data", onData);
      req.on("end", () => {
        answer(m, call, req, reader, messages, refused).then(
          (out) => {
            call.succeeded();
            res.writeHead(200, call.index === undefined ? { "content-type": "application/grpc+proto" } : { "content-type": "application/grpc+proto", [INDEX_HEADER]: String(call.index) });
            res.addTrailers(grpcStatusHeaders(undefined));
            res.end(grpcFrame(out));
          },
          (err: unknown) => {
            const error = call.failed(err);
            if (!res.stream.closed && !res.stream.destroyed) respondTrailersOnly(res, error);
          },
        );
      });
    },
  };

  async function answer(m: FastMethod, call: PipelineCall, req: Http2ServerRequest, reader: FrameReader, messages: Buffer[], refused: unknown): Promise<Uint8Array> {
    if (refused !== undefined) throw refused;
    reader.end();
    // connect-es' words and codes (invoke-implementation.js), so both paths answer alike.
    if (messages.length === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
    if (messages.length > 1) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
    let input: MessageShape<DescMessage>;
    try {
      input = fromBinary(m.method.input, messages[0]);
    } catch (e) {
      throw new ConnectError(`parse binary: ${(e as Error).message}`, Code.Internal);
    }
    const result = await call.unary({ header: credentialHeaders(req), peer: () => peerOf(req), message: input }, async (principal, caller) => create(m.method.output, await m.handle(input, principal, caller)));
    return toBinary(m.method.output, result);
  }
}
