import type { Peer } from "../../shared/peer.js";
import { toJson } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";
import { ServiceSchema } from "../../../gen/proto/capstan/v1/service_pb.js";
import { DomainError } from "../../model/errors.js";
import type { CommandType, Job } from "../../model/job.js";
import { emptyCapabilities } from "../../model/node.js";
import { emptyMetrics } from "../../managers/node-registry.js";
import { serviceSpecToProto } from "../../rpc/service-convert.js";
import type { AgentSession } from "../../model/agent-session.js";
import { CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_PROTOCOL, type WsContext } from "./ws-context.js";

const SUPPORTED: ReadonlySet<CommandType> = new Set(["launch_replica", "stop_replica"]);

/** Seed 003's message for a job: launch or stop. */
export function encodeOrionCommand(job: Job): { type: string; payload: Record<string, unknown> } | undefined {
  const p = job.payload;
  if (p.type === "launch_replica") {
    return { type: "launch", payload: { service: toJson(ServiceSchema, serviceSpecToProto(p.service)), replicaId: p.replicaId } };
  }
  if (p.type === "stop_replica") return { type: "stop", payload: { serviceName: p.serviceName, replicaId: p.replicaId } };
  return undefined;
}

interface OrionHello {
  nodeId?: unknown;
  name?: unknown;
  address?: unknown;
  labels?: unknown;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * Seed 003's Node.js agent: {type, payload} messages; a `hello` first (its own
 * nodeId, name, address, labels), `heartbeat`s every few seconds, and `launch`
 * / `stop` commands down. It never acknowledges commands, so the job lifecycle
 * takes it at its word on receipt. Its only credential can travel in the URL
 * (`/ws?token=<join token>`). Resolves once the session is live; rejects
 * with why the agent was refused (the socket closed with a matching code).
 */
export function serveOrion(ws: WebSocket, firstMessage: { type: string; payload: unknown }, token: string, ctx: WsContext, peer: Peer): Promise<void> {
  return admitAndServe(ws, firstMessage.payload as OrionHello, token, ctx, peer);
}

async function admitAndServe(ws: WebSocket, hello: OrionHello, token: string, ctx: WsContext, peer: Peer): Promise<void> {
  const labels = Object.fromEntries(
    Object.entries(typeof hello.labels === "object" && hello.labels !== null ? hello.labels : {}).map(([k, v]) => [k, String(v)]),
  );
  let nodeId: string;
  try {
    const admitted = await ctx.gate.admit({
      nodeId: str(hello.nodeId),
      nodeToken: "",
      joinToken: token,
      name: str(hello.name) || str(hello.nodeId),
      address: str(hello.address),
      labels,
      tags: ["process"],
      capabilities: { ...emptyCapabilities(), os: labels.os ?? "", arch: labels.arch ?? "" },
      ports: {},
      agentVersion: "",
    }, peer, "ws-orion");
    nodeId = admitted.node.id;
  } catch (err) {
    const policy = err instanceof DomainError && (err.kind === "unauthenticated" || err.kind === "permission_denied");
    ws.close(policy ? CLOSE_POLICY : CLOSE_PROTOCOL, err instanceof DomainError ? err.message.slice(0, 120) : "hello rejected");
    // The refusal is the session's outcome: the gateway reports it through the call pipeline.
    throw err;
  }
  const log = ctx.logger.child({ nodeId, protocol: "ws-orion" });
  const session: AgentSession = {
    id: randomUUID(),
    nodeId,
    protocol: "ws-orion",
    connectedAt: new Date(),
    acknowledges: false,
    supports: (type) => SUPPORTED.has(type),
    send: (m) => {
      if (ws.readyState !== ws.OPEN) return false;
      const wire = m.kind === "command" ? encodeOrionCommand(m.job) : undefined;
      if (wire) ws.send(JSON.stringify(wire));
      return true;
    },
    close: (reason) => ws.close(CLOSE_GOING_AWAY, reason.slice(0, 120)),
  };
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    let msg: { type?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      log.warn("unreadable agent message ignored");
      return;
    }
    if (msg.type === "heartbeat") {
      const metrics = (msg.payload as { metrics?: { cpu?: unknown; memory?: unknown } } | undefined)?.metrics ?? {};
      const heartbeat = { ...emptyMetrics(), cpuUsage: clampPercent(num(metrics.cpu)), memUsage: clampPercent(num(metrics.memory)) };
      void ctx.registry.heartbeat(nodeId, heartbeat).catch((err: unknown) => log.warn({ err }, "heartbeat rejected"));
    } else if (msg.type === "status") {
      log.info({ status: msg.payload }, "agent status");
    } else {
      log.debug({ type: msg.type }, "agent message ignored");
    }
  });
  ws.once("close", () => {
    ctx.sessions.detach(session);
    log.info("agent disconnected");
  });
  ctx.sessions.attach(session);
  log.info("agent connected");
}

function clampPercent(n: number): number {
  return Math.min(100, Math.max(0, n));
}
