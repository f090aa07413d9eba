import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";

/** A request handler for both HTTP/1.1 and HTTP/2 (Node's compatibility API). */
export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** An HTTP/1.1 upgrade handler (WebSocket); returns false to refuse the upgrade. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Options of the one-port server. */
export interface OnePortServerOptions {
  handler: RequestHandler;
  upgrade?: UpgradeHandler;
  /**
   * PEM certificate and key: serve TLS, negotiating h2 or http/1.1 by ALPN.
   * With `clientCa`, clients are asked for a certificate; one that does not
   * chain to the CA is not refused at the handshake (operators with tokens
   * need none) but vouches for nothing (see peer.ts).
   */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  logger: Logger;
}

/** A listening (or ready to listen) server. */
export interface OnePortServer {
  /** Listens; port 0 picks a free port. Resolves with the port in use. */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: stop accepting, let requests in flight finish within the
   * deadline, then end HTTP/2 sessions and destroy what is left.
   */
  close(deadlineMs: number): Promise<void>;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A client must send its request headers within this time. */
const HEADERS_TIMEOUT_MS = 15_000;
/** ... and a request body within this time (long responses are not affected). */
const REQUEST_TIMEOUT_MS = 60_000;
/** An HTTP/2 connection with no open stream and no traffic for this long is closed. */
const IDLE_TIMEOUT_MS = 120_000;
/** Streams one HTTP/2 connection may have open at once. */
const MAX_STREAMS_PER_CONNECTION = 1000;

/**
 * One port for gRPC, gRPC-Web, Connect, REST and WebSocket. Plaintext: a TCP
 * server peeks at each connection's first bytes and hands it to an HTTP/2
 * server when they are the HTTP/2 preface (prior-knowledge h2c, which gRPC
 * clients use), else to an HTTP/1.1 server. Node's http2 server with
 * allowHTTP1 cannot do this without TLS. With TLS, ALPN chooses.
 */
export function createOnePortServer(options: OnePortServerOptions): OnePortServer {
  const { handler, logger } = options;
  const h1 = http.createServer(handler as http.RequestListener);
  // Slow clients (slowloris) must not hold sockets: headers and bodies have deadlines. The
  // request timeout covers receiving the request only, so long responses (watches) go on.
  h1.headersTimeout = HEADERS_TIMEOUT_MS;
  h1.requestTimeout = REQUEST_TIMEOUT_MS;
  h1.keepAliveTimeout = 65_000;
  const settings = { maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION };
  const h2 = options.tls
    ? http2.createSecureServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: true,
          ALPNProtocols: ["h2", "http/1.1"],
          settings,
          ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        },
        handler,
      )
    : http2.createServer({ settings }, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    // Idle means no open stream: agent streams and watches may be quiet for long and must stay.
    let open = 0;
    s.on("stream", (stream) => {
      open++;
      stream.once("close", () => open--);
    });
    s.setTimeout(IDLE_TIMEOUT_MS, () => {
      if (open === 0) s.close();
    });
  });
  const sockets = new Set<net.Socket>();
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!options.upgrade?.(req, socket, head)) socket.destroy();
  };
  h1.on("upgrade", onUpgrade);
  if (options.tls) (h2 as http2.Http2SecureServer).on("upgrade", onUpgrade);

  let tcp: net.Server;
  if (options.tls) {
    tcp = h2 as unknown as net.Server;
    tcp.on("connection", (socket: net.Socket) => track(socket));
  } else {
    tcp = net.createServer((socket) => {
      track(socket);
      sniff(socket, (isH2) => {
        (isH2 ? h2 : h1).emit("connection", socket);
        // The HTTP/1.1 server reads a paused socket only once resumed; HTTP/2 resumes its own
        // (and breaks if resumed from outside).
        if (!isH2) socket.resume();
      });
    });
  }
  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", (err) => logger.debug({ err }, "socket error"));
  }
  h1.on("clientError", (err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
    logger.debug({ err }, "bad HTTP/1.1 request");
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve((tcp.address() as net.AddressInfo).port);
        });
      });
    },
    async close(deadlineMs) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      h1.closeIdleConnections();
      for (const s of sessions) s.close();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([closed, deadline]);
      for (const s of sessions) s.destroy();
      h1.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Reads enough of a new connection to tell HTTP/2's preface from HTTP/1.1, then puts it back. */
function sniff(socket: net.Socket, route: (isH2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  // A connection that never speaks must not hold a socket forever.
  const silent = setTimeout(() => socket.destroy(), 30_000);
  silent.unref();
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    // "P" may start POST, PUT or PRI: decide once the bytes differ or the preface is complete.
    if (prefix && n < PREFACE.length) return;
    clearTimeout(silent);
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    route(prefix);
  };
  socket.on("data", onData);
}
