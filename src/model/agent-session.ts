import type { CommandType, Job } from "./job.js";

/** A message for an agent, in domain terms; each transport encodes it its own way. */
export type AgentOutbound =
  | { kind: "command"; job: Job }
  | { kind: "cancel"; jobId: string; reason: string }
  | { kind: "chunk_report_request" };

/** One live connection to an agent, whatever carries it (gRPC stream, WebSocket). */
export interface AgentSession {
  readonly id: string;
  readonly nodeId: string;
  /** "grpc", "ws-instadeploy" or "ws-orion". */
  readonly protocol: string;
  readonly connectedAt: Date;
  /** Whether the agent reports job progress (seed 003's agents do not). */
  readonly acknowledges: boolean;
  /** Whether the agent on the other end can run this kind of command. */
  supports(type: CommandType): boolean;
  /** Queues a message; false when the session is already closed. */
  send(message: AgentOutbound): boolean;
  /** Ends the connection (e.g. when a newer one replaces it). */
  close(reason: string): void;
}

/** The live sessions as the job lifecycle sees them: which node has one, and when one attaches. */
export interface SessionDirectory {
  /** The node's live session, if any. */
  get(nodeId: string): AgentSession | undefined;
  /** Whether the node has a live session. */
  isConnected(nodeId: string): boolean;
  /** Calls listener with every newly attached session; returns the unsubscribe function. */
  onAttach(listener: (session: AgentSession) => void): () => void;
}
