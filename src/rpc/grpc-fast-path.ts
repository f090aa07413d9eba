import { create, fromBinary, toBinary, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import type { Principal } from "../model/principal.js";
import { peerOf } from "../shared/peer.js";
import type { CallGuard } from "./call-guard.js";
import { credentialHeaders } from "./credentials.js";
import { FastStreamServer, type FastStream } from "./grpc-fast-stream.js";
import { FrameReader, GRPC_CONTENT_TYPES, grpcFrame, grpcStatusHeaders, respondTrailersOnly } from "./grpc-frames.js";
import { lazyRpcLogger, reportFailure, requestIdSource } from "./rpc-log.js";

/** A unary method served on the fast path, and what answers it. */
export interface FastMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: DescMethodUnary<I, O>;
  /** Answers a request; must not need a HandlerContext (nothing on this path builds one). */
  handle(input: MessageShape<I>, principal: Principal): MessageInitShape<O> | Promise<MessageInitShape<O>>;
}

/** A FastMethod whose handler is typed by its method (a list of them holds mixed types). */
export function fastMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  handle: (input: MessageShape<I>, principal: Principal) => MessageInitShape<O> | Promise<MessageInitShape<O>>,
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
  streams: readonly FastStream[];
  guard: CallGuard;
  logger: Logger;
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
 * chunk they fetch) through the same CallGuard (caller, rate limit, access
 * policy, audit), and agent streams (one per node, 10,000 at a time) through
 * the same handler; both with the same error mapping and logging. Every
 * other call to them (Connect, gRPC-Web, JSON, compression, grpc-timeout)
 * goes to connect-node, so no protocol feature is reimplemented, only
 * skipped past.
 */
export function createGrpcFastPath(options: GrpcFastPathOptions): GrpcFastPath {
  const { guard, logger, maxMessageBytes } = options;
  const pathOf = (m: { method: { name: string; parent: { typeName: string } } }) => `/${m.method.parent.typeName}/${m.method.name}`;
  const unary = new Map(options.unary.map((m) => [pathOf(m), m]));
  const streams = new Map(options.streams.map((m) => [pathOf(m), m]));
  const requestId = requestIdSource();
  return {
    handles(req) {
      if (req.httpVersionMajor !== 2 || req.method !== "POST") return false;
      const path = req.url ?? "";
      if (!unary.has(path) && !streams.has(path)) return false;
      const h = req.headers;
      return GRPC_CONTENT_TYPES.has(String(h["content-type"])) && (h["grpc-encoding"] === undefined || h["grpc-encoding"] === "identity") && h["grpc-timeout"] === undefined;
    },
    serve(req, res) {
      const id = requestId(req.headers["x-request-id"] as string | undefined);
      const stream = streams.get(req.url);
      if (stream) {
        new FastStreamServer(stream, req, res, { root: logger, requestId: id, maxMessageBytes, shutdown: options.shutdown });
        return;
      }
      const m = unary.get(req.url) as FastMethod;
      const rpc = `${m.method.parent.typeName}/${m.method.name}`;
      const started = performance.now();
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
        answer(m, rpc, req, reader, messages, refused).then(
          (out) => {
            res.writeHead(200, { "content-type": "application/grpc+proto" });
            res.addTrailers(grpcStatusHeaders(undefined));
            res.end(grpcFrame(out));
          },
          (err: unknown) => {
            const error = reportFailure(logger, lazyRpcLogger(logger, rpc, id), err, started);
            if (!res.stream.closed && !res.stream.destroyed) respondTrailersOnly(res, error);
          },
        );
      });
    },
  };

  async function answer(m: FastMethod, rpc: string, req: Http2ServerRequest, reader: FrameReader, messages: Buffer[], refused: unknown): Promise<Uint8Array> {
    if (refused !== undefined) throw refused;
    reader.end();
    // The same words and codes connect-es uses for bodies it cannot read, so both paths answer alike.
    if (messages.length !== 1) throw new ConnectError("protocol error: a unary request must be one complete gRPC message", Code.InvalidArgument);
    let input;
    try {
      input = fromBinary(m.method.input, messages[0]);
    } catch (e) {
      throw new ConnectError(`parse binary: ${(e as Error).message}`, Code.Internal);
    }
    const admission = await guard.admit({ rpc, header: credentialHeaders(req), peer: peerOf(req), message: input });
    try {
      const result = create(m.method.output, await m.handle(input, admission.principal));
      await admission.done(undefined, result);
      return toBinary(m.method.output, result);
    } catch (err) {
      void admission.done(err);
      throw err;
    }
  }
}
