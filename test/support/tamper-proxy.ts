import http2 from "node:http2";
import type { AddressInfo } from "node:net";

/** The request header that tells the proxy what to break. */
export const TAMPER_HEADER = "x-conformance-tamper";

/** What the proxy can do to the first gRPC frame of a request body. */
export type Tamper = "compressed-flag" | "truncate";

const { HTTP2_HEADER_STATUS, NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

function withoutPseudo(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) out[k] = v;
  return out;
}

/**
 * An h2c proxy in front of a server that passes every stream through frame
 * for frame in both directions (a trailers-only answer stays one HEADERS frame
 * with END_STREAM), except that a request carrying `x-conformance-tamper`
 * has its first gRPC frame broken on the way: the compressed flag set without
 * a grpc-encoding, or a declared length 10 bytes longer than the message.
 * Real clients cannot send such frames; through this, each of them can, and
 * reads the server's answer to it.
 */
export async function startTamperProxy(upstreamUrl: string): Promise<{ target: string; close(): Promise<void> }> {
  const upstream = http2.connect(upstreamUrl);
  upstream.on("error", () => {});
  const server = http2.createServer();
  server.on("stream", (down, headers) => {
    const tamper = headers[TAMPER_HEADER] as Tamper | undefined;
    const up = upstream.request({ ":method": "POST", ":path": headers[":path"], ...withoutPseudo(headers) });
    up.on("error", () => {});
    down.on("error", () => {});
    let first = true;
    down.on("data", (chunk: Buffer) => {
      if (first && tamper) {
        if (chunk.length < 5) throw new Error("the proxy expects a whole frame prefix in the first chunk");
        chunk = Buffer.from(chunk);
        if (tamper === "compressed-flag") chunk[0] |= 1;
        else chunk.writeUInt32BE(chunk.readUInt32BE(1) + 10, 1);
      }
      first = false;
      up.write(chunk);
    });
    down.on("end", () => up.end());
    down.on("close", () => {
      if (!up.closed) up.close(NGHTTP2_CANCEL);
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    let endedWithHeaders = false;
    up.on("response", (h, flags) => {
      endedWithHeaders = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
      if (down.closed) return;
      const out = { [HTTP2_HEADER_STATUS]: h[HTTP2_HEADER_STATUS], ...withoutPseudo(h) };
      down.respond(out, endedWithHeaders ? { endStream: true } : { waitForTrailers: true });
    });
    up.on("data", (chunk: Buffer) => {
      if (!down.closed) down.write(chunk);
    });
    up.on("trailers", (t) => (trailers = withoutPseudo(t)));
    down.on("wantTrailers", () => down.sendTrailers(trailers));
    up.on("end", () => {
      if (!endedWithHeaders && !down.closed) down.end();
    });
    up.on("close", () => {
      if (up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR && !down.closed) down.close(up.rstCode);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        upstream.destroy();
        server.close(() => resolve());
        // Open client sessions would keep close() waiting.
        setTimeout(resolve, 1000).unref();
      }),
  };
}
