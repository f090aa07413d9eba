import type { Logger } from "pino";
import type { ControlReplica, Leadership, LeaseStore, MembershipStore } from "../model/leadership.js";

/** Membership settings. */
export interface MembershipOptions {
  /** REPLICA_ID and ADVERTISE_URL. */
  replicaId: string;
  address: string;
  version: string;
  /** How often this replica refreshes its row; rows older than three of these are not listed. */
  refreshMs: number;
  /** Agent streams this replica holds now. */
  agents: () => number;
  /** The leader deletes rows unseen this long (replicas that died rather than left). */
  forgetAfterMs?: number;
  now?: () => number;
}

/** A replica as listed: its row, and what the lease says of it. */
export interface ReplicaView extends ControlReplica {
  readonly leader: boolean;
  /** Owns the chunk index: the leader, for now. */
  readonly chunkOwner: boolean;
  /** The replica that answers. */
  readonly self: boolean;
}

/**
 * This replica's membership row, refreshed periodically and removed when it
 * stops, and the list of replicas seen recently. Who leads is read from the
 * lease row, the one truth about it, not from a flag each row would carry.
 */
export class Membership {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: Date;
  private readonly now: () => number;

  constructor(
    private readonly store: MembershipStore,
    private readonly leases: Pick<LeaseStore, "get">,
    private readonly leadership: Leadership,
    private readonly options: MembershipOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.startedAt = new Date(this.now());
  }

  /** Writes this replica's row at once, then every refresh period. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((err: unknown) => this.logger.warn({ err }, "refreshing the membership row failed")), this.options.refreshMs);
    this.timer.unref();
  }

  /** Stops refreshing and removes this replica's row (it left; the others stop listing it at once). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.store.remove(this.options.replicaId).catch((err: unknown) => this.logger.warn({ err }, "removing the membership row failed"));
  }

  /** One refresh; the leader also forgets rows long unseen. Exposed for tests. */
  async refresh(): Promise<void> {
    const now = this.now();
    await this.store.upsert({
      id: this.options.replicaId,
      address: this.options.address,
      version: this.options.version,
      startedAt: this.startedAt,
      lastSeenAt: new Date(now),
      agents: this.options.agents(),
    });
    if (this.leadership.isLeader()) {
      const forgotten = await this.store.removeSeenBefore(new Date(now - (this.options.forgetAfterMs ?? 3_600_000)));
      if (forgotten > 0) this.logger.info({ forgotten }, "forgot replicas unseen for an hour");
    }
  }

  /** The replicas seen within three refresh periods, oldest first, and the lease's epoch. */
  async list(): Promise<{ replicas: ReplicaView[]; leaderEpoch: number }> {
    const [rows, lease] = await Promise.all([this.store.list(), this.leases.get()]);
    const since = this.now() - 3 * this.options.refreshMs;
    const leader = lease && lease.holder !== "" && lease.expiresAtMs > lease.nowMs ? lease.holder : undefined;
    const replicas = rows
      .filter((r) => r.lastSeenAt.getTime() >= since || r.id === this.options.replicaId)
      .map((r) => ({ ...r, leader: r.id === leader, chunkOwner: r.id === leader, self: r.id === this.options.replicaId }));
    return { replicas, leaderEpoch: lease?.epoch ?? 0 };
  }
}
