import { create } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  AgentStreamResponseSchema,
  type AgentHello,
  type AgentStreamRequest,
  type AgentStreamResponse,
} from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import { commandToProto, updateFromProto } from "../rpc/job-convert.js";
import { capabilitiesFromProto } from "../rpc/node-convert.js";
import { metricsFromProto } from "../rpc/metrics-convert.js";
import type { Peer } from "../shared/peer.js";
import type { AgentGate, AgentHelloInput } from "./agent-gate.js";
import { AsyncQueue } from "../shared/async-queue.js";
import type { ChunkReportSink } from "../model/chunk-report.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { AgentOutbound, AgentSession } from "../model/agent-session.js";
import type { SessionRegistry } from "./session-registry.js";

/** What the AgentStream handler needs. */
export interface AgentStreamDeps {
  gate: AgentGate;
  registry: NodeRegistry;
  sessions: SessionRegistry;
  jobs: JobLifecycle;
  chunks: ChunkReportSink;
  logger: Logger;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  serverVersion: string;
}

/**
 * One agent stream as its handler sees it, whichever path it came by (the
 * gRPC fast path, or connect-node for Connect and compressed gRPC).
 */
export interface AgentCall {
  /** Aborts when the call is over: the client went away, or the server is shutting down. */
  signal: AbortSignal;
  /** The request's bearer token ("" when none); a hello without a token uses it. */
  bearer: string;
  /** The network peer, when the call came over the network. */
  peer: Peer | undefined;
  /** The call's logger, made on first use. */
  logger: (() => Logger) | undefined;
}

/** Serves one agent stream: requests in, responses out. */
export type AgentStreamHandler = (requests: AsyncIterable<AgentStreamRequest>, call: AgentCall) => AsyncGenerator<AgentStreamResponse>;

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
 * One agent's gRPC stream as the session registry sees it. A class rather
 * than an object of closures: 10,000 streams each holding a handful of
 * closures and their contexts add up, and nothing here needs them.
 */
class GrpcSession implements AgentSession {
  readonly id = randomUUID();
  readonly protocol = "grpc";
  readonly connectedAt = new Date();
  readonly acknowledges = true;
  readonly outbox = new AsyncQueue<AgentStreamResponse>();

  constructor(
    readonly nodeId: string,
    private readonly log: StreamLog,
  ) {}

  supports(): boolean {
    return true;
  }

  send(message: AgentOutbound): boolean {
    return this.outbox.push(encode(message));
  }

  close(reason: string): void {
    this.log.info({ nodeId: this.nodeId, reason }, "agent stream closed by server");
    this.outbox.end();
  }

  /** The call signal's abort listener. */
  handleEvent(): void {
    this.outbox.end();
  }
}

/**
 * The stream's logger, made only when a line is written: a pino child
 * serialises its bindings, and two per stream cost megabytes across a fleet
 * that logs nothing at info level.
 */
class StreamLog {
  constructor(
    private readonly root: Logger,
    private readonly rpcLogger: (() => Logger) | undefined,
  ) {}

  info(fields: object, msg: string): void {
    if (this.root.isLevelEnabled("info")) (this.rpcLogger?.() ?? this.root).info(fields, msg);
  }

  debug(fields: object, msg: string): void {
    if (this.root.isLevelEnabled("debug")) (this.rpcLogger?.() ?? this.root).debug(fields, msg);
  }
}

/**
 * Reads the hello and admits the agent. Kept out of the stream's generator so
 * that the hello and the admitted Node are not held for the stream's lifetime
 * (the registry holds the node's current record).
 */
async function admit(
  iterator: AsyncIterator<AgentStreamRequest>,
  call: AgentCall,
  deps: AgentStreamDeps,
): Promise<{ nodeId: string; welcome: AgentStreamResponse }> {
  const first = await withTimeout(iterator.next(), deps.helloTimeoutMs, call.signal);
  if (first.done || first.value.message.case !== "hello") {
    throw new InvalidArgumentError("hello", "the first message on an agent stream must be a hello");
  }
  const { node, newToken } = await deps.gate.admit(helloFromProto(first.value.message.value, call.bearer), call.peer, "grpc");
  const welcome = create(AgentStreamResponseSchema, {
    message: {
      case: "welcome",
      value: {
        nodeId: node.id,
        nodeToken: newToken ?? "",
        heartbeatInterval: { seconds: BigInt(Math.floor(deps.heartbeatIntervalMs / 1000)), nanos: (deps.heartbeatIntervalMs % 1000) * 1e6 },
        serverVersion: deps.serverVersion,
      },
    },
  });
  return { nodeId: node.id, welcome };
}

/**
 * Serves one agent's bidirectional stream: the first message must be a
 * hello, which the gate admits; the answer is a Welcome; then heartbeats,
 * job reports and chunk reports flow up while commands flow down through a
 * session in the registry. A newer stream from the same node replaces this
 * one. Closing the stream does not take the node offline: the heartbeat TTL
 * does, so a short network blip does not flap it.
 */
export function createAgentStreamHandler(deps: AgentStreamDeps): AgentStreamHandler {
  return async function* agentStream(
    requests: AsyncIterable<AgentStreamRequest>,
    call: AgentCall,
  ): AsyncGenerator<AgentStreamResponse> {
    const log = new StreamLog(deps.logger, call.logger);
    const iterator = requests[Symbol.asyncIterator]();
    const { nodeId, welcome } = await admit(iterator, call, deps);
    const session = new GrpcSession(nodeId, log);
    session.outbox.push(welcome);
    deps.sessions.attach(session);
    log.info({ nodeId, sessionId: session.id }, "agent connected");
    call.signal.addEventListener("abort", session);
    // Gone while it was being admitted: the listener above will never fire.
    if (call.signal.aborted) session.outbox.end();
    void readLoop(iterator, nodeId, deps, log).then(
      () => session.outbox.end(),
      (err: unknown) => session.outbox.end(err),
    );
    try {
      yield* session.outbox;
    } finally {
      call.signal.removeEventListener("abort", session);
      deps.sessions.detach(session);
      log.info({ nodeId, sessionId: session.id }, "agent disconnected");
    }
  };
}

async function readLoop(iterator: AsyncIterator<AgentStreamRequest>, nodeId: string, deps: AgentStreamDeps, log: StreamLog): Promise<void> {
  for (;;) {
    // Block-scoped, so the previous message is not held while waiting seconds for the next.
    const r = await iterator.next();
    if (r.done) return;
    const m = r.value.message;
    switch (m.case) {
      case "heartbeat":
        await deps.registry.heartbeat(nodeId, metricsFromProto(m.value.metrics));
        break;
      case "commandUpdate":
        await deps.jobs.applyUpdate(nodeId, updateFromProto(m.value));
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
        log.debug({ nodeId }, "empty agent message ignored");
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
