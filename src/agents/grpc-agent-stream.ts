import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  AgentStreamResponseSchema,
  type AgentHello,
  type AgentStreamRequest,
  type AgentStreamResponse,
} from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { InvalidArgumentError } from "../domain/errors.js";
import type { NodeRegistry } from "../domain/node-registry.js";
import { commandToProto, updateFromProto } from "../rpc/job-convert.js";
import { capabilitiesFromProto } from "../rpc/node-convert.js";
import { metricsFromProto } from "../rpc/metrics-convert.js";
import { peerKey, rpcLoggerKey } from "../rpc/context.js";
import { bearerToken } from "../rpc/credentials.js";
import type { AgentGate, AgentHelloInput } from "./agent-gate.js";
import { AsyncQueue } from "./async-queue.js";
import type { ChunkReportSink } from "./chunk-report-sink.js";
import type { Dispatcher } from "./dispatcher.js";
import type { AgentOutbound, AgentSession, SessionRegistry } from "./session-registry.js";

/** What the AgentStream handler needs. */
export interface AgentStreamDeps {
  gate: AgentGate;
  registry: NodeRegistry;
  sessions: SessionRegistry;
  dispatcher: Dispatcher;
  chunks: ChunkReportSink;
  logger: Logger;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  serverVersion: string;
}

/** AgentHello to the gate's input; a bearer header stands in for a missing token. */
export function helloFromProto(h: AgentHello, bearer: string): AgentHelloInput {
  return {
    nodeId: h.nodeId,
    name: h.name,
    address: h.address,
    labels: { ...h.labels },
    tags: [...h.tags],
    capabilities: capabilitiesFromProto(h.capabilities),
    ports: { ...h.ports },
    agentVersion: h.agentVersion,
    nodeToken: h.nodeToken || (h.nodeId ? bearer : ""),
    joinToken: h.joinToken || bearer,
  };
}

function encode(message: AgentOutbound): AgentStreamResponse {
  switch (message.kind) {
    case "command":
      return create(AgentStreamResponseSchema, { message: { case: "command", value: commandToProto(message.job) } });
    case "cancel":
      return create(AgentStreamResponseSchema, { message: { case: "cancel", value: { jobId: message.jobId, reason: message.reason } } });
    case "chunk_report_request":
      return create(AgentStreamResponseSchema, { message: { case: "chunkReportRequest", value: {} } });
  }
}

/**
 * Serves one agent's bidirectional stream: the first message must be a
 * hello, which the gate admits; the answer is a Welcome; then heartbeats,
 * job reports and chunk reports flow up while commands flow down through a
 * session in the registry. A newer stream from the same node replaces this
 * one. Closing the stream does not take the node offline: the heartbeat TTL
 * does, so a short network blip does not flap it.
 */
export function createAgentStreamHandler(deps: AgentStreamDeps) {
  return async function* agentStream(
    requests: AsyncIterable<AgentStreamRequest>,
    ctx: HandlerContext,
  ): AsyncGenerator<AgentStreamResponse> {
    // Loggers are made only when a line is written: a pino child serialises its
    // bindings, and two per stream cost megabytes across a fleet that logs nothing.
    const rpcLogger = ctx.values.get(rpcLoggerKey);
    const log = () => rpcLogger?.() ?? deps.logger;
    const iterator = requests[Symbol.asyncIterator]();
    const first = await withTimeout(iterator.next(), deps.helloTimeoutMs, ctx.signal);
    if (first.done || first.value.message.case !== "hello") {
      throw new InvalidArgumentError("hello", "the first message on an agent stream must be a hello");
    }
    const { node, newToken } = await deps.gate.admit(helloFromProto(first.value.message.value, bearerToken(ctx.requestHeader)), ctx.values.get(peerKey));
    const outbox = new AsyncQueue<AgentStreamResponse>();
    const session: AgentSession = {
      id: randomUUID(),
      nodeId: node.id,
      protocol: "grpc",
      connectedAt: new Date(),
      acknowledges: true,
      supports: () => true,
      send: (m) => outbox.push(encode(m)),
      close: (reason) => {
        if (deps.logger.isLevelEnabled("info")) log().info({ nodeId: node.id, reason }, "agent stream closed by server");
        outbox.end();
      },
    };
    const info = (msg: string) => {
      if (deps.logger.isLevelEnabled("info")) log().info({ nodeId: node.id, sessionId: session.id }, msg);
    };
    outbox.push(
      create(AgentStreamResponseSchema, {
        message: {
          case: "welcome",
          value: {
            nodeId: node.id,
            nodeToken: newToken ?? "",
            heartbeatInterval: { seconds: BigInt(Math.floor(deps.heartbeatIntervalMs / 1000)), nanos: (deps.heartbeatIntervalMs % 1000) * 1e6 },
            serverVersion: deps.serverVersion,
          },
        },
      }),
    );
    deps.sessions.attach(session);
    info("agent connected");
    const abort = () => outbox.end();
    ctx.signal.addEventListener("abort", abort);
    void readLoop(iterator, node.id, deps, log).then(
      () => outbox.end(),
      (err: unknown) => outbox.end(err),
    );
    try {
      yield* outbox;
    } finally {
      ctx.signal.removeEventListener("abort", abort);
      deps.sessions.detach(session);
      info("agent disconnected");
    }
  };
}

async function readLoop(
  iterator: AsyncIterator<AgentStreamRequest>,
  nodeId: string,
  deps: AgentStreamDeps,
  log: () => Logger,
): Promise<void> {
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    const m = r.value.message;
    switch (m.case) {
      case "heartbeat":
        await deps.registry.heartbeat(nodeId, metricsFromProto(m.value.metrics));
        break;
      case "commandUpdate":
        await deps.dispatcher.applyUpdate(nodeId, updateFromProto(m.value));
        break;
      case "chunkReport":
        await deps.chunks.report(nodeId, {
          full: m.value.full,
          chunks: m.value.chunks.map((c) => ({ chunkId: c.chunkId, sizeBytes: c.sizeBytes, metadata: { ...c.metadata } })),
          removedChunkIds: [...m.value.removedChunkIds],
        });
        break;
      case "hello":
        throw new InvalidArgumentError("hello", "a stream carries one hello, as its first message");
      default:
        if (deps.logger.isLevelEnabled("debug")) log().debug({ nodeId }, "empty agent message ignored");
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new InvalidArgumentError("hello", `no hello within ${ms} ms`)), ms);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}
