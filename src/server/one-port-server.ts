import http from "node:http";
import http2 from "node:http2";
import net, { type BlockList } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { carryAddress } from "../shared/peer.js";
import { isTrustedProxy, proxySignature, readProxyHeader } from "./proxy-protocol.js";

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
  /**
   * Load balancers whose PROXY protocol header (v2, or v1) is believed
   * (TRUSTED_PROXIES). A connection from one of them must start with a header,
   * and the address it carries becomes the connection's peer; a connection
   * from anywhere else that starts with one is refused.
   */
  trustedProxies?: BlockList;
  /** Slow-client limits; the defaults suit production, tests shorten them. */
  timeouts?: Partial<ServerTimeouts>;
}

/** How long a client may take before the server hangs up on it. */
export interface ServerTimeouts {
  /** Until the first bytes and then the request headers have arrived. */
  headersMs: number;
  /** Until the whole request (body included) has arrived; responses may run on. */
  requestMs: number;
  /** An HTTP/2 connection with no open stream and no traffic. */
  idleMs: number;
}

/** Production defaults. */
export const DEFAULT_TIMEOUTS: ServerTimeouts = { headersMs: 15_000, requestMs: 60_000, idleMs: 120_000 };

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
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  // Slow clients (slowloris) must not hold sockets: headers and bodies have deadlines. The
  // request timeout covers receiving the request only, so long responses (watches) go on.
  // Node checks those deadlines every connectionsCheckingInterval, so check often enough.
  const h1 = http.createServer(
    { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: Math.min(30_000, Math.ceil(timeouts.headersMs / 2)) },
    handler as http.RequestListener,
  );
  // This server never listens itself (the TCP server below hands it sockets), and Node starts
  // tracking connections, which the header/request deadlines and closeAllConnections() rely
  // on, only when a server emits "listening". Start it by hand; close() stops it.
  h1.emit("listening");
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
    s.setTimeout(timeouts.idleMs, () => {
      if (open === 0) s.close();
    });
  });
  const sockets = new Set<net.Socket>();
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!options.upgrade?.(req, socket, head)) socket.destroy();
  };
  h1.on("upgrade", onUpgrade);
  if (options.tls) (h2 as http2.Http2SecureServer).on("upgrade", onUpgrade);

  const { trustedProxies } = options;
  const refuse = (socket: net.Socket, reason: string) => logger.warn({ peer: socket.remoteAddress, reason }, "refused a connection: PROXY protocol");
  /**
   * The PROXY header comes first, before TLS and before the HTTP/2 sniffing: a
   * trusted proxy's connection is handed on once its header is read, carrying
   * the client's address; any other connection is handed on as it is.
   */
  const viaProxy = (socket: net.Socket, next: () => void) => {
    if (!trustedProxies || !isTrustedProxy(trustedProxies, socket.remoteAddress)) return next();
    readProxyHeader(
      socket,
      timeouts.headersMs,
      (source) => {
        if (source) carryAddress(socket, source);
        next();
      },
      (reason) => refuse(socket, reason),
    );
  };
  let tcp: net.Server;
  if (options.tls && !trustedProxies) {
    tcp = h2 as unknown as net.Server;
    tcp.on("connection", (socket: net.Socket) => track(socket));
  } else if (options.tls) {
    const tlsServer = h2 as unknown as net.Server;
    // The TLS socket wraps the TCP one (its `_parent`) and asks the kernel for its peer:
    // give it the carried address before any request on it is read.
    tlsServer.prependListener("secureConnection", (secure: net.Socket & { _parent?: net.Socket }) => {
      const raw = secure._parent;
      if (raw && Object.hasOwn(raw, "remoteAddress")) carryAddress(secure, { address: raw.remoteAddress ?? "", port: raw.remotePort ?? 0 });
    });
    tcp = net.createServer((socket) => {
      track(socket);
      // A PROXY header from an untrusted peer reaches the TLS handshake, which fails on it.
      viaProxy(socket, () => tlsServer.emit("connection", socket));
    });
  } else {
    tcp = net.createServer((socket) => {
      track(socket);
      viaProxy(socket, () =>
        sniff(socket, timeouts.headersMs, refuse, (isH2) => {
          (isH2 ? h2 : h1).emit("connection", socket);
          // The HTTP/1.1 server reads a paused socket only once resumed; HTTP/2 resumes its own
          // (and breaks if resumed from outside).
          if (!isH2) socket.resume();
        }),
      );
    });
  }
  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", (err) => logger.debug({ err }, "socket error"));
  }
  h1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
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
      // Not listening, so close() only stops the connection checks (its "not running" error is expected).
      h1.close(() => {});
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * Reads enough of a new connection to tell HTTP/2's preface from HTTP/1.1,
 * then puts it back. A PROXY header here did not come from a trusted proxy
 * (those are read before): it is refused, never believed.
 */
function sniff(socket: net.Socket, timeoutMs: number, refuse: (socket: net.Socket, reason: string) => void, route: (isH2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  // A connection that never speaks must not hold a socket forever.
  const silent = setTimeout(() => socket.destroy(), timeoutMs);
  silent.unref();
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    const proxy = proxySignature(seen);
    if (proxy === "yes") {
      clearTimeout(silent);
      socket.off("data", onData);
      refuse(socket, "PROXY header from a peer not in TRUSTED_PROXIES");
      socket.destroy();
      return;
    }
    // "P" may start POST, PUT, PRI or PROXY: decide once the bytes differ or the preface is complete.
    if ((prefix && n < PREFACE.length) || proxy === "maybe") return;
    clearTimeout(silent);
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    route(prefix);
  };
  socket.on("data", onData);
  // A socket whose PROXY header was just read is paused; a new one starts flowing either way.
  socket.resume();
}
