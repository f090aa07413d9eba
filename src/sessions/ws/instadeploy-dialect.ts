import { randomUUID } from "node:crypto";
import { peerOfSocket } from "../../shared/peer.js";
import type { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import { DomainError } from "../../model/errors.js";
import { emptyCapabilities } from "../../model/node.js";
import type { CommandType, Job, JobUpdate } from "../../model/job.js";
import type { AgentSession } from "../../model/agent-session.js";
import { CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_PROTOCOL, type WsContext } from "./ws-context.js";

const SUPPORTED: ReadonlySet<CommandType> = new Set(["deploy_compose", "stop_compose", "status", "health_check"]);
const WIRE_TYPE: Partial<Record<CommandType, string>> = {
  deploy_compose: "DEPLOY_COMPOSE",
  stop_compose: "STOP_COMPOSE",
  status: "STATUS",
  health_check: "HEALTH_CHECK",
};

/** Seed 002's command message for a job. */
export function encodeInstaDeployCommand(job: Job): { id: string; type: string; payload: Record<string, unknown> } {
  const p = job.payload;
  const payload =
    p.type === "deploy_compose"
      ? { project_name: p.projectName, compose_file_base64: Buffer.from(p.composeFile, "utf8").toString("base64") }
      : p.type === "stop_compose" || p.type === "status"
        ? { project_name: p.projectName }
        : {};
  return { id: job.id, type: WIRE_TYPE[p.type] ?? p.type.toUpperCase(), payload };
}

/** Seed 002's response message to a job update; undefined for statuses that carry no news (QUEUED). */
export function decodeInstaDeployResponse(raw: unknown): JobUpdate | undefined {
  const m = raw as { job_id?: unknown; status?: unknown; logs?: unknown; error?: unknown; data?: unknown };
  if (typeof m?.job_id !== "string" || typeof m.status !== "string") throw new Error("a response needs job_id and status");
  const statuses: Record<string, JobUpdate["status"]> = { IN_PROGRESS: "in_progress", COMPLETED: "completed", FAILED: "failed" };
  const status = statuses[m.status];
  if (!status) return undefined;
  const logs = typeof m.logs === "string" ? m.logs : "";
  const now = new Date();
  return {
    jobId: m.job_id,
    status,
    lines: logs === "" ? [] : logs.replace(/\n$/, "").split("\n").map((text) => ({ time: now, stream: "stdout", text })),
    exitCode: status === "failed" ? 1 : 0,
    error: typeof m.error === "string" ? m.error : "",
    result: m.data === undefined || m.data === null ? undefined : typeof m.data === "object" && !Array.isArray(m.data) ? (m.data as Record<string, unknown>) : { data: m.data },
  };
}

/**
 * Seed 002's Go agent: authenticated by `Authorization: Bearer <join token>` at
 * the handshake, identified by X-Agent-Hostname; commands go down as
 * {id, type, payload}, results come up as {job_id, status, logs, error, data}.
 * It answers the server's pings, and each pong (or ping of its own) counts as
 * a heartbeat. Resolves once the session is live; rejects with why the agent
 * was refused (the socket closed with a matching code).
 */
export async function serveInstaDeploy(ws: WebSocket, req: IncomingMessage, bearer: string, ctx: WsContext): Promise<void> {
  const hostname = String(req.headers["x-agent-hostname"] ?? "");
  const [os = "", arch = ""] = String(req.headers["x-agent-architecture"] ?? "").split("-");
  let admitted;
  try {
    admitted = await ctx.gate.admit({
      nodeId: "",
      nodeToken: "",
      joinToken: bearer,
      name: hostname,
      address: req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "",
      labels: {},
      tags: ["docker", "compose"],
      capabilities: { ...emptyCapabilities(), os, arch, dockerAvailable: true },
      ports: {},
      agentVersion: String(req.headers["x-agent-version"] ?? ""),
    }, peerOfSocket(req.socket), "ws-instadeploy");
  } catch (err) {
    const policy = err instanceof DomainError && (err.kind === "unauthenticated" || err.kind === "permission_denied");
    ws.close(policy ? CLOSE_POLICY : CLOSE_PROTOCOL, err instanceof DomainError ? err.message.slice(0, 120) : "registration failed");
    // The refusal is the session's outcome: the gateway reports it through the call pipeline.
    throw err;
  }
  const nodeId = admitted.node.id;
  const log = ctx.logger.child({ nodeId, protocol: "ws-instadeploy" });
  const session: AgentSession = {
    id: randomUUID(),
    nodeId,
    protocol: "ws-instadeploy",
    connectedAt: new Date(),
    acknowledges: true,
    supports: (type) => SUPPORTED.has(type),
    send: (m) => {
      if (ws.readyState !== ws.OPEN) return false;
      if (m.kind === "command") ws.send(JSON.stringify(encodeInstaDeployCommand(m.job)));
      return true;
    },
    close: (reason) => ws.close(CLOSE_GOING_AWAY, reason.slice(0, 120)),
  };
  const alive = () => void ctx.registry.touch(nodeId).catch((err: unknown) => log.warn({ err }, "heartbeat failed"));
  ws.on("pong", alive);
  ws.on("ping", alive);
  const pinger = setInterval(() => ws.ping(), ctx.heartbeatIntervalMs);
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    let update: JobUpdate | undefined;
    try {
      update = decodeInstaDeployResponse(JSON.parse(String(data)));
    } catch (err) {
      log.warn({ msg: (err as Error).message }, "unreadable agent message ignored");
      return;
    }
    if (update) void ctx.jobs.applyUpdate(nodeId, update).catch((err: unknown) => log.error({ err }, "applying job update failed"));
  });
  ws.once("close", () => {
    clearInterval(pinger);
    ctx.sessions.detach(session);
    log.info("agent disconnected");
  });
  ctx.sessions.attach(session);
  log.info({ hostname }, "agent connected");
}
