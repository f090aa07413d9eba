import { setImmediate as nextTurn } from "node:timers/promises";
import type { Logger } from "pino";
import type { NodeState } from "../state/node-state.js";
import type { NodeRegistry } from "./node-registry.js";
import type { NodeStore } from "../model/node-store.js";
import { NotLeaderError } from "../model/errors.js";
import type { Leadership } from "../model/leadership.js";

/**
 * Nodes written per store call. A flush yields to the event loop between
 * slices: written in one go, 10,000 nodes held the loop for about a second
 * (the store's writes are synchronous under SQLite), stalling every heartbeat
 * and stream behind it; a slice of 50 takes a few milliseconds.
 */
const FLUSH_SLICE = 50;

/** Settings of the liveness monitor. */
export interface LivenessOptions {
  /** A node is offline once this long has passed since its last heartbeat. */
  heartbeatTtlMs: number;
  /** How often last-seen times and metrics are written to the store. */
  flushIntervalMs: number;
  /**
   * Offline transitions are made only while this replica leads, as fenced
   * decisions; absent, always (one process, tests). Flushes run on every replica.
   */
  leadership?: Leadership;
  now?: () => number;
}

/**
 * Turns heartbeat silence into offline transitions and writes last-seen times
 * to the store in batches, as Nomad's servers keep heartbeat timers in memory.
 * One sweep over the in-memory view per tick costs microseconds per thousand
 * nodes, so a sweep beats a timer per node in both code and memory.
 */
export class LivenessMonitor {
  private sweepTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;
  private startedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly registry: NodeRegistry,
    private readonly state: NodeState,
    private readonly store: NodeStore,
    private readonly options: LivenessOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
    // A new leader knows other replicas' heartbeats only as of their last flush: it gives every
    // node the flush interval on top of the TTL, as a restart does.
    options.leadership?.onChange((leader) => {
      if (leader) this.startedAt = this.now();
    });
  }

  /** How often the sweep runs: a fifth of the TTL, between 50 ms and 1 s. */
  get sweepIntervalMs(): number {
    return Math.min(1000, Math.max(50, Math.floor(this.options.heartbeatTtlMs / 5)));
  }

  /**
   * Marks offline, at once, nodes whose last heartbeat is older than the TTL
   * (and the flush interval: see sweep), so a restart never shows a long-dead
   * node online; then starts the timers.
   */
  async start(): Promise<void> {
    this.startedAt = this.now();
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.sweepTimer.unref();
    this.flushTimer.unref();
  }

  /** Stops the timers and writes the last batch. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.flushTimer);
    // A flush under way took its ids before later heartbeats: write those too.
    await this.flushing;
    await this.flush();
  }

  /**
   * One pass: every online node past its TTL goes offline. A node not heard
   * since start-up has only its stored last-seen time, which may be up to one
   * flush interval older than its last heartbeat before the restart: it gets
   * that interval on top of the TTL, so a node that was silent for less than
   * the TTL is never marked offline by a restart.
   */
  async sweep(): Promise<void> {
    const leadership = this.options.leadership;
    if (leadership && !leadership.isLeader()) return;
    const deadline = this.now() - this.options.heartbeatTtlMs;
    const seen = (at: number) => (at < this.startedAt ? at + this.options.flushIntervalMs : at);
    const expired = this.state
      .list()
      .filter((n) => n.status === "online" && seen(n.lastHeartbeatAt?.getTime() ?? 0) < deadline);
    await Promise.all(
      expired.map((n) =>
        this.registry.markOffline(n.id, leadership?.decisions).catch((err: unknown) => {
          // Refused because another replica leads now: the leadership logged it and stepped down.
          if (!(err instanceof NotLeaderError)) this.logger.error({ err, nodeId: n.id }, "persisting offline status failed");
        }),
      ),
    );
  }

  /** Writes the last-seen times and metrics that changed since the previous flush. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.registry.dirty.size === 0) return;
    const ids = [...this.registry.dirty];
    this.registry.dirty.clear();
    this.flushing = this.flushSlices(ids).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushSlices(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += FLUSH_SLICE) {
      if (i > 0) await nextTurn();
      // Read when written, so a slice carries heartbeats that arrived while earlier ones were.
      const entries = ids.slice(i, i + FLUSH_SLICE).flatMap((id) => {
        const n = this.state.get(id);
        return n ? [{ id, lastHeartbeatAt: n.lastHeartbeatAt, metrics: n.metrics }] : [];
      });
      try {
        await this.store.flushHeartbeats(entries);
      } catch (err) {
        // Put the rest back so the next flush retries; liveness in memory is unaffected.
        const rest = ids.slice(i);
        for (const id of rest) this.registry.dirty.add(id);
        this.logger.error({ err, count: rest.length }, "flushing heartbeats failed");
        return;
      }
    }
  }
}
