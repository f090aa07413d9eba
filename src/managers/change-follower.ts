import type { Logger } from "pino";
import type { Change, ChangeFeed, LoadedChange } from "../model/change-feed.js";
import type { Job } from "../model/job.js";
import type { Node } from "../model/node.js";
import type { DeploymentState } from "../state/deployment-state.js";
import type { NodeState } from "../state/node-state.js";
import type { ServiceState } from "../state/service-state.js";
import type { ChunkManager } from "./chunk-manager.js";
import type { JobLifecycleManager } from "./job-lifecycle.js";
import type { TokenManager } from "./token-manager.js";

/** The in-memory views and managers other replicas' changes are applied to. */
export interface FollowedViews {
  nodes: NodeState;
  jobs: Pick<JobLifecycleManager, "applyRemote" | "deliverQueued">;
  deployments: DeploymentState;
  services: ServiceState;
  tokens: Pick<TokenManager, "applyRemote">;
  chunks: Pick<ChunkManager, "applyRemoteTarget">;
  /** A service or replica changed elsewhere: the reconciler looks again. */
  servicesChanged: () => void;
}

/** Follower settings. */
export interface ChangeFollowerOptions {
  /** This replica's REPLICA_ID: its own changes are in memory already. */
  origin: string;
  /** How often the feed is read without a wake-up (notifications are not durable). */
  sweepMs: number;
  /** Changes older than this are deleted from the feed. */
  retentionMs: number;
  /** Called when changes this replica has not applied were pruned: its views cannot catch up. */
  onLost: (reason: string) => void;
  /** Whether this replica prunes the feed (the leader: one DELETE per minute, not one per replica). Always, when absent. */
  prunes?: () => boolean;
}

const BATCH = 500;
const PRUNE_EVERY_MS = 60_000;
// Keys recently set from other replicas' changes, to repair a race with this replica's own writes (see committed()).
const RECENT_KEYS = 10_000;

/**
 * Keeps this replica's in-memory views current with every replica's writes:
 * it reads the change feed in seq order from where the views were loaded,
 * woken by the database after other replicas' commits and by a periodic
 * sweep, and applies what other replicas changed (its own changes it applied
 * as it made them). `index` is the seq up to which every change is applied:
 * what a read asking for Capstan-Min-Index waits for.
 */
export class ChangeFollower {
  private cursor = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private waiters: Array<{ index: number; resolve: () => void }> = [];
  private readonly recent = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private stopListening: (() => Promise<void>) | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly advanceListeners = new Set<(index: number) => void>();

  constructor(
    private readonly feed: ChangeFeed,
    private readonly views: FollowedViews,
    private readonly options: ChangeFollowerOptions,
    private readonly logger: Logger,
  ) {}

  /** The seq every change up to which is applied here. */
  get index(): number {
    return this.cursor;
  }

  /**
   * Starts following from `from`: the feed's head as read before the views
   * were loaded, so nothing committed meanwhile is missed (a change applied
   * twice is harmless: it loads the current state).
   */
  async start(from: number): Promise<void> {
    this.cursor = from;
    this.unsubscribe = this.feed.onCommitted((changes) => this.committed(changes));
    this.stopListening = await this.feed.listen(() => this.wake());
    const sweep = setInterval(() => this.wake(), this.options.sweepMs);
    const prune = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    sweep.unref();
    prune.unref();
    this.timers = [sweep, prune];
    this.wake();
  }

  /** Stops reading; pending waits end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe?.();
    await this.stopListening?.();
    await this.running;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolves once every change up to `index` is applied here (or the follower stops). */
  waitFor(index: number): Promise<void> {
    if (index <= this.cursor || this.stopped) return Promise.resolve();
    const wait = new Promise<void>((resolve) => this.waiters.push({ index, resolve }));
    this.wake();
    return wait;
  }

  /** Reads the feed now (again, if a read is under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) this.wake();
    });
  }

  private async drain(): Promise<void> {
    this.again = false;
    try {
      for (;;) {
        const from = this.cursor;
        const batch = await this.feed.after(from, BATCH);
        if (batch.length === 0) return;
        // Seqs are contiguous (one counter, rolled back with its transaction): a hole means pruned changes.
        if (batch[0].seq !== from + 1) {
          this.lost(`changes ${from + 1}..${batch[0].seq - 1} were pruned before this replica applied them`);
          return;
        }
        const deliver: Job[] = [];
        for (const change of batch) {
          // This replica's own commits may have moved the index on while the batch was read.
          if (change.seq <= this.cursor) continue;
          if (change.origin !== this.options.origin) this.apply(change, deliver);
          this.cursor = change.seq;
        }
        this.release();
        // Deliveries after the whole batch: a job's deployment, written with it, is known here first.
        for (const job of deliver) void this.views.jobs.deliverQueued(job);
        if (batch.length < BATCH) return;
      }
    } catch (err) {
      // The database is away: the next sweep tries again from the same place.
      this.logger.warn({ err, index: this.cursor }, "reading the change feed failed");
    }
  }

  /** Applies one change from another replica to the views. */
  private apply(change: LoadedChange, deliver: Job[]): void {
    const { views } = this;
    if (this.recent.size >= RECENT_KEYS) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(`${change.entity}:${change.key}`, change.seq);
    switch (change.entity) {
      case "node":
        if (change.node) views.nodes.put(withLatestHeartbeat(change.node, views.nodes.get(change.node.id)));
        else views.nodes.remove(change.key);
        return;
      case "heartbeats":
        for (const node of change.nodes) {
          const mine = views.nodes.get(node.id);
          if (mine && (node.lastHeartbeatAt?.getTime() ?? 0) > (mine.lastHeartbeatAt?.getTime() ?? 0)) {
            views.nodes.put({ ...mine, lastHeartbeatAt: node.lastHeartbeatAt, metrics: node.metrics }, true);
          }
        }
        return;
      case "job": {
        const queued = views.jobs.applyRemote(change.key, change.job);
        if (queued) deliver.push(queued);
        return;
      }
      case "deployment":
        if (change.deployment) views.deployments.put(change.deployment);
        else views.deployments.remove(change.key);
        return;
      case "service":
        if (change.service) views.services.services.set(change.key, change.service);
        else views.services.services.delete(change.key);
        views.servicesChanged();
        return;
      case "replica":
        if (change.replica) views.services.replicas.set(change.key, change.replica);
        else views.services.replicas.delete(change.key);
        views.servicesChanged();
        return;
      case "token":
        if (change.token) views.tokens.applyRemote(change.token);
        return;
      case "chunk_target":
        views.chunks.applyRemoteTarget(change.key, change.factor);
        return;
      case "agent":
      case "decision":
        // Facts for event watchers: no view holds them.
        return;
    }
  }

  /**
   * This replica committed changes. When they continue the feed from here,
   * the index moves on at once (its own reads need not wait). A change of
   * another replica to the same thing, committed after this one but read
   * and applied before this replica's writer put its own state in memory,
   * would be overwritten by that older state: such things are loaded again.
   */
  private committed(changes: readonly Change[]): void {
    if (changes[0].seq === this.cursor + 1) {
      this.cursor = changes[changes.length - 1].seq;
      this.release();
    }
    const overtaken = changes.filter((c) => (this.recent.get(`${c.entity}:${c.key}`) ?? 0) > c.seq);
    if (overtaken.length > 0) setImmediate(() => void this.reload(overtaken));
  }

  private async reload(changes: Change[]): Promise<void> {
    try {
      const deliver: Job[] = [];
      for (const change of await this.feed.load(changes)) this.apply({ ...change, origin: "" }, deliver);
    } catch (err) {
      this.logger.warn({ err }, "reloading changed state failed");
    }
  }

  /** Calls listener each time the index moves on (the event watchers' shared reader follows it). Returns an unsubscribe. */
  onAdvance(listener: (index: number) => void): () => void {
    this.advanceListeners.add(listener);
    return () => this.advanceListeners.delete(listener);
  }

  private release(): void {
    for (const l of this.advanceListeners) l(this.cursor);
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.index <= this.cursor);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.index > this.cursor);
    for (const w of ready) w.resolve();
  }

  private lost(reason: string): void {
    this.stopped = true;
    this.logger.fatal({ index: this.cursor }, `change feed: ${reason}; this replica must restart to load its views again`);
    this.options.onLost(reason);
  }

  private async prune(): Promise<void> {
    if (this.options.prunes && !this.options.prunes()) return;
    try {
      const pruned = await this.feed.prune(new Date(Date.now() - this.options.retentionMs));
      if (pruned > 0) this.logger.debug({ pruned }, "change feed pruned");
    } catch (err) {
      this.logger.warn({ err }, "pruning the change feed failed");
    }
  }
}

/** A node as another replica stored it, with the later of its and this replica's last heartbeat. */
function withLatestHeartbeat(stored: Node, mine: Node | undefined): Node {
  if (!mine || (mine.lastHeartbeatAt?.getTime() ?? 0) <= (stored.lastHeartbeatAt?.getTime() ?? 0)) return stored;
  return { ...stored, lastHeartbeatAt: mine.lastHeartbeatAt, metrics: mine.metrics };
}
