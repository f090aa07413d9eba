import type { Logger } from "pino";
import type { CallPipeline } from "../../rpc/call-pipeline.js";
import type { NodeRegistry } from "../../managers/node-registry.js";
import type { AgentGate } from "../agent-gate.js";
import type { JobLifecycle } from "../../model/job-lifecycle.js";
import type { SessionRegistry } from "../session-registry.js";

/** What the WebSocket dialects share. */
export interface WsContext {
  gate: AgentGate;
  registry: NodeRegistry;
  sessions: SessionRegistry;
  jobs: JobLifecycle;
  logger: Logger;
  /** Each WebSocket agent session is one call through it ("ws-orion/Session"): named, its end mapped, logged and observed. */
  pipeline: CallPipeline;
  /** Server pings at this interval; each pong counts as a heartbeat. */
  heartbeatIntervalMs: number;
}

/** RFC 6455 close code for a policy violation: what seed 002's agent expects for a bad token. */
export const CLOSE_POLICY = 1008;
/** Close code for a protocol error (bad JSON, unknown first message). */
export const CLOSE_PROTOCOL = 1002;
/** Close code when the server goes away or the session is replaced. */
export const CLOSE_GOING_AWAY = 1001;
