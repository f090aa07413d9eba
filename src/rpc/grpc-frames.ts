import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { Http2ServerResponse } from "node:http2";

/** The content types of binary gRPC (application/grpc means protobuf). */
export const GRPC_CONTENT_TYPES: ReadonlySet<string> = new Set(["application/grpc", "application/grpc+proto"]);

/**
 * The status of a gRPC answer as header fields: grpc-status, and for an
 * error its message (percent-encoded), metadata and details
 * (grpc-status-details-bin), written by connect-es' own setTrailerStatus so
 * that the fast paths answer exactly as connect-node does. They go in the
 * trailers, or in the one HEADERS frame of a trailers-only answer.
 */
export function grpcStatusHeaders(error: ConnectError | undefined): Record<string, string> {
  if (!error) return { "grpc-status": "0" };
  const target = new Headers();
  setTrailerStatus(target, error);
  return Object.fromEntries(target);
}

/**
 * Answers a call with no message: one HEADERS frame carrying the status and
 * END_STREAM (gRPC's trailers-only response). Node's compatibility API
 * (`writeHead` then `end()`) would send the headers without END_STREAM and an
 * empty DATA frame after them; grpc-go, grpc-js and grpcio then find no
 * trailers and wait, or report "Stream removed".
 */
export function respondTrailersOnly(res: Http2ServerResponse, error: ConnectError | undefined): void {
  res.stream.respond({ ":status": 200, "content-type": "application/grpc+proto", ...grpcStatusHeaders(error) }, { endStream: true });
}

/** One uncompressed gRPC message frame: flag byte 0, big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * Splits the bytes of a gRPC request body, which arrive in chunks of any
 * size, into messages. It refuses what connect-node refuses, with the same
 * codes and words: a compressed frame (the paths using this reader only take
 * uncompressed calls), a message over the size limit (before buffering it).
 */
export class FrameReader {
  private pending: Buffer | undefined;

  /** @param maxMessageBytes the largest message accepted (MAX_MESSAGE_BYTES) */
  constructor(private readonly maxMessageBytes: number) {}

  /** The messages completed by this chunk, in order; throws a ConnectError for a frame it refuses. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const messages: Buffer[] = [];
    while (buf.length >= 5) {
      if (buf[0] & 1) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
      const length = buf.readUInt32BE(1);
      if (length > this.maxMessageBytes) {
        throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${this.maxMessageBytes}`, Code.ResourceExhausted);
      }
      if (buf.length < 5 + length) break;
      messages.push(buf.subarray(5, 5 + length));
      buf = buf.subarray(5 + length);
    }
    // Copied, so a long-lived stream does not pin the whole chunk a small remainder came in.
    if (buf.length > 0) this.pending = Buffer.from(buf);
    return messages;
  }

  /** Called at the end of the body: throws when it stopped inside a frame. */
  end(): void {
    if (this.pending !== undefined) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
}
