import type { AgentOutbound, AgentSession } from "../../src/model/agent-session.js";

/** A session that records what it was sent. */
export class RecordingSession implements AgentSession {
  readonly id = `s-${Math.random().toString(36).slice(2)}`;
  readonly connectedAt = new Date();
  readonly protocol = "test";
  readonly sent: AgentOutbound[] = [];
  closed: string | undefined;

  constructor(
    readonly nodeId: string,
    readonly acknowledges = true,
  ) {}

  supports(): boolean {
    return true;
  }

  send(message: AgentOutbound): boolean {
    if (this.closed) return false;
    this.sent.push(message);
    return true;
  }

  close(reason: string): void {
    this.closed = reason;
  }

  /** Ids of the commands sent, in order. */
  commandIds(): string[] {
    return this.sent.flatMap((m) => (m.kind === "command" ? [m.job.id] : []));
  }
}
