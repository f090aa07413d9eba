import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { peerOfSocket } from "../../shared/peer.js";
import { serveInstaDeploy } from "./instadeploy-dialect.js";
import { serveOrion } from "./orion-dialect.js";
import { CLOSE_GOING_AWAY, CLOSE_PROTOCOL, type WsContext } from "./ws-context.js";

/** The /ws endpoint on the server's port. */
export interface WebSocketGateway {
  /** Takes an HTTP upgrade; false when the path is not ours (the caller closes the socket). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every WebSocket, e.g. at shutdown. */
  close(): void;
}

const HELLO_TIMEOUT_MS = 10_000;

/**
 * Serves JSON agents at /ws, on the same port as everything else, bridged
 * onto the same sessions as gRPC agents. Two dialects: seed 002's Go agent
 * (recognised by its X-Agent-Hostname header) and seed 003's Node.js agent
 * (recognised by its first message, a hello).
 */
export function createWebSocketGateway(ctx: WsContext, maxPayloadBytes = 1 << 20): WebSocketGateway {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  return {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname !== "/ws") return false;
      // An address that failed to authenticate too often is refused before the handshake.
      const wait = ctx.gate.retryAfterSeconds(peerOfSocket(req.socket).address);
      if (wait !== undefined) {
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nRetry-After: ${wait}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return true;
      }
      wss.handleUpgrade(req, socket, head, (ws) => void accept(ws, req, url, ctx));
      return true;
    },
    close() {
      for (const client of wss.clients) client.close(CLOSE_GOING_AWAY, "server shutting down");
      wss.close();
    },
  };
}

async function accept(ws: WebSocket, req: IncomingMessage, url: URL, ctx: WsContext): Promise<void> {
  ws.on("error", (err) => ctx.logger.debug({ err }, "websocket error"));
  const auth = String(req.headers.authorization ?? "");
  const bearer = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : (url.searchParams.get("token") ?? "");
  if (req.headers["x-agent-hostname"]) {
    await serveInstaDeploy(ws, req, bearer, ctx);
    return;
  }
  const timer = setTimeout(() => ws.close(CLOSE_PROTOCOL, "no hello"), HELLO_TIMEOUT_MS);
  ws.once("message", (data) => {
    clearTimeout(timer);
    let first: { type?: unknown; payload?: unknown };
    try {
      first = JSON.parse(String(data)) as typeof first;
    } catch {
      ws.close(CLOSE_PROTOCOL, "messages must be JSON");
      return;
    }
    if (first.type !== "hello") {
      ws.close(CLOSE_PROTOCOL, "the first message must be a hello");
      return;
    }
    void serveOrion(ws, { type: "hello", payload: first.payload }, bearer, ctx, peerOfSocket(req.socket));
  });
}
