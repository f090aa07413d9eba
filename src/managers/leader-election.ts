import type { Logger } from "pino";
import { NotLeaderError } from "../model/errors.js";
import type { Leadership, LeaseStore } from "../model/leadership.js";
import type { Transaction, UnitOfWork } from "../model/unit-of-work.js";

/** Leader election settings. */
export interface LeaderElectionOptions {
  /** REPLICA_ID: the lease's holder. */
  replicaId: string;
  /** LEADER_LEASE: how long a lease lasts unrenewed; bounds failover when the leader dies or pauses. */
  leaseMs: number;
  /** How often the leader renews (default a third of the lease). */
  renewMs?: number;
  /** How often a follower tries to take a free lease (default the renew period, at most 1 s). */
  retryMs?: number;
  /**
   * The database admits this one process (a locked SQLite file): the lease is
   * taken at once whoever held it (a crashed predecessor), and kept.
   */
  sole?: boolean;
  /** Monotonic clock, for "no renewal for a whole lease" (tests replace it). */
  now?: () => number;
}

/**
 * Leadership over the lease row (LeaseStore): a follower takes the lease when
 * it is free (released, or expired on the database's clock), which raises its
 * epoch; the leader renews it; every decision is written through `decisions`,
 * whose transactions check the epoch first, so a leader that was paused or cut
 * off while another took over cannot write one. It steps down when a renewal
 * or a decision is refused, or when it could not renew for a whole lease.
 */
export class LeaderElection implements Leadership {
  private current = 0;
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(leader: boolean, epoch: number) => void>();
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  readonly decisions: UnitOfWork;

  constructor(
    private readonly leases: LeaseStore,
    private readonly options: LeaderElectionOptions,
    private readonly logger: Logger,
  ) {
    this.renewMs = options.renewMs ?? Math.max(50, Math.floor(options.leaseMs / 3));
    this.retryMs = options.retryMs ?? Math.min(1000, this.renewMs);
    this.now = options.now ?? (() => performance.now());
    this.decisions = { transaction: (work) => this.decide(work) };
  }

  isLeader(): boolean {
    return this.current !== 0;
  }

  epoch(): number {
    return this.current;
  }

  onChange(listener: (leader: boolean, epoch: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tries once at once (so a lone replica leads before its singletons start), then keeps trying and renewing. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  /**
   * Stops trying, and hands the lease over at once when held: the other
   * replicas take it on their next try instead of waiting for it to expire.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const epoch = this.current;
    if (epoch === 0) return;
    // Local first: a decision from here on is refused without asking the database.
    this.stepDown("shutting down: lease released for the next leader");
    // Waits for decisions in flight (they hold the row's share lock), then frees it.
    await this.leases.release(this.options.replicaId, epoch).catch((err: unknown) => this.logger.warn({ err }, "releasing the leader lease failed; it expires on its own"));
  }

  /** One round: renew the lease held, or try to take a free one. Exposed for tests. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.current ? this.renewMs : this.retryMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const { replicaId, leaseMs } = this.options;
    try {
      if (this.current !== 0) {
        const epoch = this.current;
        if (this.options.sole) {
          // One process on its SQLite file (sqlite-lock.ts): nobody can take the lease over, so a
          // process starved past its lease (a renewal that came late) keeps leading instead of
          // stopping and restarting its singletons; the renewal only keeps the row current for
          // ListReplicas. Decisions are fenced by epoch alone.
          await this.leases.renew(replicaId, epoch, leaseMs, true).catch((err: unknown) => this.logger.warn({ err }, "leader lease renewal failed"));
          return;
        }
        if (await this.leases.renew(replicaId, epoch, leaseMs)) this.renewedAt = this.now();
        else if (this.current === epoch) this.stepDown("the lease was lost (it expired or another replica took it)");
        return;
      }
      const epoch = await this.leases.acquire(replicaId, leaseMs, this.options.sole);
      if (epoch !== undefined && !this.stopped) this.become(epoch);
    } catch (err) {
      // The database cannot be reached: a leader that cannot renew for a whole lease may have
      // been replaced, so it stops deciding (its decisions would be refused anyway).
      if (this.current !== 0 && this.now() - this.renewedAt >= leaseMs) this.stepDown("the lease could not be renewed for a whole lease period");
      else this.logger.warn({ err }, "leader lease round failed");
    }
  }

  private become(epoch: number): void {
    this.current = epoch;
    this.renewedAt = this.now();
    this.logger.info({ replicaId: this.options.replicaId, epoch }, "this replica is now the leader");
    this.emit();
  }

  private stepDown(reason: string): void {
    if (this.current === 0) return;
    const epoch = this.current;
    this.current = 0;
    this.logger.warn({ replicaId: this.options.replicaId, epoch, reason }, "stepping down as leader");
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) {
      try {
        listener(this.current !== 0, this.current);
      } catch (err) {
        this.logger.error({ err }, "leadership listener failed");
      }
    }
  }

  /** A fenced decision; a refusal steps down (and is rethrown for the caller to drop its decision). */
  private async decide<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    const epoch = this.current;
    try {
      return await this.leases.fenced(this.options.replicaId, epoch, work);
    } catch (err) {
      if (err instanceof NotLeaderError && epoch !== 0) {
        this.logger.warn({ epoch, currentEpoch: err.currentEpoch }, "a decision was refused: another replica leads now");
        if (this.current === epoch) this.stepDown(`decision refused: ${err.message}`);
      }
      throw err;
    }
  }
}
