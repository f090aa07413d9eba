import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/** An HTTP answer as it came off the wire. */
export interface WireAnswer {
  status: number;
  headers: Record<string, string>;
  /** HTTP/2 trailers (gRPC puts grpc-status there unless the answer is trailers-only). */
  trailers: Record<string, string>;
  body: Buffer;
  /** HTTP/2 only: the HEADERS frame carried END_STREAM (a trailers-only answer must). */
  headersEndStream?: boolean;
}

/** What a raw call ended with: an answer, or why there is none. */
export type WireOutcome =
  | { kind: "answer"; answer: WireAnswer }
  /** A streaming call sent headers and at least one message and was still open when we stopped reading. */
  | { kind: "open-stream"; answer: WireAnswer }
  /** Nothing complete came back in time. */
  | { kind: "timeout"; partial: string }
  /** The connection or stream broke before a complete answer. */
  | { kind: "broken"; error: string };

function flatten(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return out;
}

/**
 * One HTTP/2 prior-knowledge (h2c) connection, as gRPC clients open it,
 * reconnected when the server has closed it (a GOAWAY is a legitimate answer
 * to a broken stream, not a reason to stop fuzzing).
 */
export class H2Client {
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly url: string) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.url);
    // Errors surface on the streams; an unhandled session error would crash the test process instead.
    session.on("error", () => {});
    this.session = session;
    return session;
  }

  /**
   * POSTs `body` to `path` and collects headers, data and trailers. With
   * `streaming`, an answer that has sent a 200 and its first data frame counts
   * as an open stream once `settleMs` pass without an end (server streams such
   * as Health/Watch legitimately never end); the stream is then cancelled.
   */
  request(path: string, headers: Record<string, string>, body: Uint8Array, opts: { timeoutMs: number; streaming: boolean; settleMs?: number }): Promise<WireOutcome> {
    const session = this.connect();
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({ ":method": "POST", ":path": path, ...headers });
      } catch (err) {
        resolve({ kind: "broken", error: String(err) });
        return;
      }
      let status = 0;
      let head: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      let headersEndStream = false;
      const chunks: Buffer[] = [];
      let settle: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (outcome: WireOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(settle);
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        resolve(outcome);
      };
      const answer = (): WireAnswer => ({ status, headers: head, trailers, body: Buffer.concat(chunks), headersEndStream });
      const timer = setTimeout(() => finish({ kind: "timeout", partial: `status ${status}, ${Buffer.concat(chunks).length} bytes` }), opts.timeoutMs);
      stream.on("response", (h, flags) => {
        status = Number(h[":status"]);
        headersEndStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        head = flatten(h);
      });
      stream.on("trailers", (t) => (trailers = flatten(t)));
      stream.on("data", (c: Buffer) => {
        chunks.push(c);
        if (opts.streaming && status === 200 && !settle) settle = setTimeout(() => finish({ kind: "open-stream", answer: answer() }), opts.settleMs ?? 300);
      });
      stream.on("end", () => finish(status ? { kind: "answer", answer: answer() } : { kind: "broken", error: "stream ended without headers" }));
      stream.on("close", () => finish(status ? { kind: "answer", answer: answer() } : { kind: "broken", error: `stream closed, code ${stream.rstCode}` }));
      stream.on("error", (err) => finish({ kind: "broken", error: String(err) }));
      stream.end(body);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.session?.destroy();
  }
}

/**
 * One HTTP/1.1 request on a connection of its own (no keep-alive, so the
 * server's shutdown never waits on an idle socket of ours).
 */
export function httpRequest(
  url: string,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: Uint8Array | string; timeoutMs: number; localAddress?: string },
): Promise<WireOutcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: WireOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    // An explicit length: Node sends GET and DELETE bodies without one, which the server would read as a second request.
    const headers = opts.body === undefined ? opts.headers : { ...opts.headers, "content-length": String(Buffer.byteLength(opts.body)) };
    const req = http.request(`${url}${opts.path}`, { method: opts.method, headers, agent: false, localAddress: opts.localAddress }, (res) => {
      // A Server-Sent Events stream (GET /api/v1/events) never ends: its headers are the answer.
      if (/^text\/event-stream/.test(String(res.headers["content-type"] ?? ""))) {
        finish({ kind: "answer", answer: { status: res.statusCode ?? 0, headers: flatten(res.headers), trailers: {}, body: Buffer.alloc(0) } });
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        finish({ kind: "answer", answer: { status: res.statusCode ?? 0, headers: flatten(res.headers), trailers: {}, body: Buffer.concat(chunks) } }),
      );
      res.on("error", (err) => finish({ kind: "broken", error: String(err) }));
    });
    const timer = setTimeout(() => finish({ kind: "timeout", partial: "" }), opts.timeoutMs);
    req.on("error", (err) => finish({ kind: "broken", error: String(err) }));
    req.end(opts.body);
  });
}

/**
 * Writes `bytes` as they are on a fresh TCP connection and reads the first
 * HTTP/1.1 answer: for requests no HTTP client library would send (bad header
 * bytes, a content-length that lies). With `halfClose` the connection's write
 * side is closed after the bytes, which is how a client says "that is all"
 * when the body is shorter than its content-length.
 */
export function rawHttp(port: number, bytes: Buffer, timeoutMs: number, halfClose = false): Promise<WireOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (o: WireOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: "timeout", partial: Buffer.concat(chunks).toString("latin1").slice(0, 200) }), timeoutMs);
    socket.on("error", (err) => finish({ kind: "broken", error: String(err) }));
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      const parsed = parseHttp1(Buffer.concat(chunks), false);
      if (parsed) finish({ kind: "answer", answer: parsed });
    });
    socket.on("end", () => {
      const all = Buffer.concat(chunks);
      const parsed = parseHttp1(all, true);
      finish(parsed ? { kind: "answer", answer: parsed } : { kind: "broken", error: all.length ? `unparsable answer: ${all.toString("latin1").slice(0, 200)}` : "closed without an answer" });
    });
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

/** Parses one HTTP/1.1 answer once it is complete (by content-length, chunked end, or the connection's end). */
function parseHttp1(buf: Buffer, ended: boolean): WireAnswer | undefined {
  const split = buf.indexOf("\r\n\r\n");
  if (split < 0) return undefined;
  const lines = buf.subarray(0, split).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return undefined;
  // "100 Continue" is not the answer, only a go-ahead before it.
  if (m[1].startsWith("1") && m[1] !== "101") return parseHttp1(buf.subarray(split + 4), ended);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(split + 4);
  // A Server-Sent Events stream (GET /api/v1/events) never ends: its headers are the answer.
  if (/^text\/event-stream/.test(headers["content-type"] ?? "")) return { status: Number(m[1]), headers, trailers: {}, body };
  const length = headers["content-length"];
  if (length !== undefined) {
    if (body.length < Number(length)) return ended ? { status: Number(m[1]), headers, trailers: {}, body } : undefined;
    body = body.subarray(0, Number(length));
  } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const decoded = dechunk(body);
    if (!decoded && !ended) return undefined;
    body = decoded ?? body;
  } else if (!ended && !/^(1\d\d|204|304)$/.test(m[1])) {
    return undefined;
  }
  return { status: Number(m[1]), headers, trailers: {}, body };
}

function dechunk(body: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (body.length < eol + 2 + size + 2) return undefined;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** gRPC's 5-byte message prefix: compressed flag, big-endian length. */
export function grpcFrame(payload: Uint8Array, opts: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = opts.compressed ? 1 : 0;
  prefix.writeUInt32BE((opts.declaredLength ?? payload.length) >>> 0, 1);
  return Buffer.concat([prefix, payload]);
}

/** grpc-status and grpc-message of a raw gRPC answer (in the headers of a trailers-only answer, else the trailers). */
export function grpcStatus(o: WireOutcome): { code: number; message: string } {
  if (o.kind !== "answer") throw new Error(`no answer: ${o.kind}`);
  const a = o.answer;
  return { code: Number(a.trailers["grpc-status"] ?? a.headers["grpc-status"]), message: decodeURIComponent(a.trailers["grpc-message"] ?? a.headers["grpc-message"] ?? "") };
}
