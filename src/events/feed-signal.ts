import type { Logger } from "pino";
import type { ChangeFeed } from "../model/change-feed.js";
import type { FeedSignal } from "./event-watch.js";

/**
 * Wakes watchers when the change feed grows: at once for this replica's own
 * commits, and for other replicas' within one sweep, by reading the feed's
 * head (one query per sweep for all watchers, and none while nobody waits).
 */
export class PolledFeedSignal implements FeedSignal {
  private known = 0;
  private waiters = new Set<(grew: boolean) => void>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly feed: Pick<ChangeFeed, "head" | "onCommitted">,
    private readonly sweepMs: number,
    private readonly logger: Logger,
  ) {}

  /** Starts following this replica's commits. */
  async start(): Promise<void> {
    this.known = await this.feed.head();
    this.unsubscribe = this.feed.onCommitted((changes) => this.grew(changes[changes.length - 1]?.seq ?? 0));
  }

  /** Stops the sweep and releases every waiter. */
  stop(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.waiters) w(false);
    this.waiters.clear();
  }

  head(): number {
    return this.known;
  }

  next(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (grew: boolean) => {
        clearTimeout(timeout);
        signal.removeEventListener("abort", aborted);
        this.waiters.delete(done);
        if (this.waiters.size === 0) this.idle();
        resolve(grew);
      };
      const aborted = () => done(false);
      const timeout = setTimeout(() => done(false), ms);
      signal.addEventListener("abort", aborted, { once: true });
      this.waiters.add(done);
      this.busy();
    });
  }

  private grew(seq: number): void {
    if (seq <= this.known) return;
    this.known = seq;
    for (const w of [...this.waiters]) w(true);
  }

  private busy(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.feed.head().then(
        (seq) => this.grew(seq),
        (err: unknown) => this.logger.warn({ err }, "event watchers could not read the change feed's head"),
      );
    }, this.sweepMs);
    this.timer.unref();
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
