import type { Logger } from "pino";
import type { AgentSession } from "../model/agent-session.js";
import type { AgentFact, Fact, FactStore } from "../model/change-facts.js";

const MAX_PER_WRITE = 1_000;

/** What the log follows: sessions attaching and detaching. */
export interface SessionEvents {
  onAttach(listener: (session: AgentSession) => void): () => void;
  onDetach(listener: (session: AgentSession) => void): () => void;
}

/** Log settings. */
export interface AgentConnectionLogOptions {
  /** REPLICA_ID: where the agents are connected. */
  replica: string;
  /** Connections noted within this long are written in one transaction. */
  flushMs: number;
  /** At most this many facts wait (a store outage): older ones are dropped, counted and logged. */
  maxPending: number;
}

/**
 * Writes agents' connections and disconnections to the change feed (the
 * `agents` event topic), so that every replica's watchers see them in one
 * order. Off the hot path: a session attaching only appends to a buffer, and
 * the buffer is written in one transaction per flushMs, whatever the number
 * of agents (a fleet reconnecting is a few transactions, not thousands).
 */
export class AgentConnectionLog {
  private pending: Fact[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private dropped = 0;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly facts: FactStore,
    private readonly options: AgentConnectionLogOptions,
    private readonly logger: Logger,
  ) {}

  /** Follows the sessions' attaches and detaches. */
  follow(sessions: SessionEvents): void {
    this.unsubscribe.push(
      sessions.onAttach((s) => this.note(s, true)),
      sessions.onDetach((s) => this.note(s, false)),
    );
  }

  /** Stops following and writes what is pending. */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  private note(session: AgentSession, connected: boolean): void {
    const fact: AgentFact = { nodeId: session.nodeId, connected, protocol: session.protocol, replica: this.options.replica, at: new Date().toISOString() };
    this.pending.push({ entity: "agent", key: session.nodeId, fact });
    if (this.pending.length > this.options.maxPending) {
      this.dropped += this.pending.length - this.options.maxPending;
      this.pending.splice(0, this.pending.length - this.options.maxPending);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    }, this.options.flushMs);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, "agent connection events were dropped while the store could not take them");
      this.dropped = 0;
    }
    while (this.pending.length > 0) {
      // At most MAX_PER_WRITE a transaction: one statement's parameters stay within PostgreSQL's limit.
      const batch = this.pending.splice(0, MAX_PER_WRITE);
      try {
        await this.facts.append(batch);
      } catch (err) {
        // The store is away: they wait for the next flush (bounded by maxPending).
        this.pending = [...batch, ...this.pending];
        this.logger.warn({ err, pending: this.pending.length }, "writing agent connection events failed; retrying");
        return;
      }
    }
  }
}
