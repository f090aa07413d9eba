import type { Logger } from "pino";
import type { ChangeFeed, LoadedChange } from "../model/change-feed.js";
import type { FeedSignal } from "./event-watch.js";

/** Watchers that read within this long still keep the window current between their waits. */
const IDLE_MS = 5_000;

/** How far the change feed is followed on this replica: the change follower. */
export interface FeedProgress {
  /** The seq every change up to which is applied here. */
  readonly index: number;
  /** Calls listener each time the index moves on. Returns an unsubscribe. */
  onAdvance(listener: (index: number) => void): () => void;
}

/** Shared reader settings. */
export interface SharedFeedOptions {
  /** Changes read from the store at a time. */
  batch: number;
  /** The most recent changes kept in memory for watchers (older ones: watchers read the store themselves). */
  keep: number;
  /** After a failed read, tried again this long after. */
  retryMs: number;
}

/**
 * The change feed as this replica's event watchers read it: one reader for
 * all of them. Driven by the change follower's advance (its sweep and the
 * database's wake-ups, its own commits at once), it reads each new stretch of
 * the feed once, with its state, into a window of recent changes, then wakes
 * the watchers, which take their events from the window: N watchers at the
 * head cost one read of the feed per advance, not N, and none cost none. A watcher behind the
 * window (resuming from an old index) reads the store itself until it
 * catches up.
 */
export class SharedFeed implements FeedSignal {
  /** The feed as watchers read it: the window, or the store behind it. */
  readonly reader: Pick<ChangeFeed, "head" | "after" | "oldest"> = {
    head: async () => this.loaded,
    after: (seq, limit) => this.after(seq, limit),
    oldest: () => this.feed.oldest(),
  };
  /** Recent changes, contiguous, oldest first; `loaded` is the last seq read into it. */
  private window: LoadedChange[] = [];
  private loaded = 0;
  private target = 0;
  private reading: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<(grew: boolean) => void>();
  private unsubscribe: (() => void) | undefined;
  /** When a watcher last read (ms). */
  private usedAt = 0;

  constructor(
    private readonly feed: Pick<ChangeFeed, "after" | "oldest">,
    private readonly options: SharedFeedOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts at the follower's index and follows its advance. */
  start(progress: FeedProgress): void {
    this.loaded = this.target = progress.index;
    this.unsubscribe = progress.onAdvance((index) => this.advance(index));
  }

  /** Stops following; every waiting watcher is released. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearTimeout(this.retry);
    await this.reading;
    for (const w of [...this.waiters]) w(false);
  }

  /** The last seq the watchers can read from memory. */
  head(): number {
    return this.loaded;
  }

  /** Changes after seq: from the window when it holds them, else from the store (a watcher behind the window). */
  async after(seq: number, limit: number): Promise<LoadedChange[]> {
    this.usedAt = Date.now();
    if (seq >= this.loaded) return [];
    const first = this.window[0]?.seq ?? this.loaded + 1;
    if (seq + 1 >= first) {
      const from = seq + 1 - first;
      return this.window.slice(from, from + limit);
    }
    return this.feed.after(seq, limit);
  }

  next(ms: number, signal: AbortSignal, seen: number): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    // Read while this watcher was between its last read and this wait: no need to wait.
    if (this.loaded > seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (grew: boolean) => {
        clearTimeout(timeout);
        signal.removeEventListener("abort", aborted);
        this.waiters.delete(done);
        resolve(grew);
      };
      const aborted = () => done(false);
      const timeout = setTimeout(() => done(false), ms);
      signal.addEventListener("abort", aborted, { once: true });
      this.waiters.add(done);
    });
  }

  /**
   * The follower is at index: read what is new, once, for everyone waiting.
   * With nobody waiting, nothing is read (writes cost no reads while nobody
   * watches): the window is dropped, and a watcher that comes back behind it
   * reads the store until it catches up.
   */
  private advance(index: number): void {
    if (index <= this.target) return;
    this.target = index;
    // "Nobody": none waiting, and none read lately (one between its read and its wait still counts).
    if (this.waiters.size === 0 && !this.reading && Date.now() - this.usedAt > IDLE_MS) {
      this.window = [];
      this.loaded = index;
      return;
    }
    this.read();
  }

  private read(): void {
    if (this.reading) return;
    this.reading = this.readUpTo().finally(() => {
      this.reading = undefined;
      if (this.loaded < this.target && !this.retry) this.read();
    });
  }

  private async readUpTo(): Promise<void> {
    try {
      while (this.loaded < this.target) {
        const changes = await this.feed.after(this.loaded, Math.min(this.options.batch, this.target - this.loaded));
        if (changes.length === 0) {
          this.window = [];
          this.loaded = this.target;
          break;
        }
        // The follower applied them, so they are there, unless pruned meanwhile: a watcher behind the
        // gap reads the store itself and meets its too-old check.
        if (changes[0].seq !== this.loaded + 1) this.window = [];
        this.window.push(...changes);
        this.loaded = changes[changes.length - 1].seq;
        if (this.window.length > this.options.keep) this.window.splice(0, this.window.length - this.options.keep);
        this.wake();
      }
    } catch (err) {
      // The store is away: watchers keep their place (heartbeats go on), and this read is tried again.
      this.logger.warn({ err, index: this.loaded }, "event watchers could not read the change feed; retrying");
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.read();
      }, this.options.retryMs);
      this.retry.unref();
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w(true);
  }
}
