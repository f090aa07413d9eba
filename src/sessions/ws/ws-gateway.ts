import { Code, ConnectError } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { InvalidArgumentError } from "../../model/errors.js";
import type { PipelineCall } from "../../rpc/call-pipeline.js";
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
/** The names WebSocket agent sessions pass the call pipeline under (calls by method in metrics and logs). */
export const INSTADEPLOY_SESSION = "ws-instadeploy/Session";
export const ORION_SESSION = "ws-orion/Session";

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
      const call = ctx.pipeline.begin(req.headers["x-agent-hostname"] ? INSTADEPLOY_SESSION : ORION_SESSION, req.headers["x-request-id"] as string | undefined);
      // An address that failed to authenticate too often is refused before the handshake.
      const wait = ctx.gate.retryAfterSeconds(peerOfSocket(req.socket).address);
      if (wait !== undefined) {
        call.failed(new ConnectError(`too many failed authentications from this address; retry in ${wait} s`, Code.ResourceExhausted));
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nRetry-After: ${wait}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return true;
      }
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, url, ctx, call));
      return true;
    },
    close() {
      for (const client of wss.clients) client.close(CLOSE_GOING_AWAY, "server shutting down");
      wss.close();
    },
  };
}

function accept(ws: WebSocket, req: IncomingMessage, url: URL, ctx: WsContext, call: PipelineCall): void {
  ws.on("error", (err) => ctx.logger.debug({ err }, "websocket error"));
  const auth = String(req.headers.authorization ?? "");
  const bearer = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : (url.searchParams.get("token") ?? "");
  if (req.headers["x-agent-hostname"]) {
    follow(ws, call, serveInstaDeploy(ws, req, bearer, ctx));
    return;
  }
  const refuse = (problem: string) => {
    ws.close(CLOSE_PROTOCOL, problem);
    call.failed(new InvalidArgumentError("hello", problem));
  };
  const timer = setTimeout(() => refuse("no hello"), HELLO_TIMEOUT_MS);
  const gone = () => {
    clearTimeout(timer);
    call.failed(new ConnectError("the agent closed the connection before its hello", Code.Canceled));
  };
  ws.once("close", gone);
  ws.once("message", (data) => {
    clearTimeout(timer);
    ws.off("close", gone);
    let first: { type?: unknown; payload?: unknown };
    try {
      first = JSON.parse(String(data)) as typeof first;
    } catch {
      return refuse("messages must be JSON");
    }
    if (first.type !== "hello") return refuse("the first message must be a hello");
    follow(ws, call, serveOrion(ws, { type: "hello", payload: first.payload }, bearer, ctx, peerOfSocket(req.socket)));
  });
}

/** The session's call ends with the socket once the agent is admitted, or at once with why it was refused. */
function follow(ws: WebSocket, call: PipelineCall, admitted: Promise<void>): void {
  admitted.then(
    () => {
      if (ws.readyState === ws.CLOSED) call.succeeded();
      else ws.once("close", () => call.succeeded());
    },
    (err: unknown) => void call.failed(err),
  );
}
