import type { Logger } from "pino";
import type { Leadership, LeaseStore, MembershipStore } from "../model/leadership.js";
import type { ChunkOwnerView } from "./chunk-forwarding.js";

/** Locator settings. */
export interface ChunkOwnerLocatorOptions {
  /** REPLICA_ID. */
  replicaId: string;
  /** How often the lease and the membership rows are read again. */
  refreshMs: number;
}

interface Owner {
  readonly id: string;
  readonly epoch: number;
  readonly address: string | undefined;
}

/**
 * Where the chunk index is: its owner is the leader (one lease, one
 * failover: the replica that runs the replication monitor holds the index it
 * reads, and nothing else needs electing). Followers read the lease row and
 * the owner's membership row (its ADVERTISE_URL) every refresh period, and
 * again when a forwarded call fails; listeners hear of each new owner (each
 * replica then asks the agents it holds for full reports).
 */
export class ChunkOwnerLocator implements ChunkOwnerView {
  private owner: Owner | undefined;
  /** The last lease epoch seen (0 before the first read that found a holder). */
  private epoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly listeners = new Set<(ownerId: string, epoch: number) => void>();

  constructor(
    private readonly leases: Pick<LeaseStore, "get">,
    private readonly members: Pick<MembershipStore, "list">,
    private readonly leadership: Leadership,
    private readonly options: ChunkOwnerLocatorOptions,
    private readonly logger: Logger,
  ) {}

  /** Reads the owner once, then every refresh period. */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.logger.warn({ err }, "looking up the chunk owner failed"));
    this.timer = setInterval(
      () => void this.refresh().catch((err: unknown) => this.logger.warn({ err }, "looking up the chunk owner failed")),
      this.options.refreshMs,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  isOwner(): boolean {
    return this.leadership.isLeader();
  }

  ownerAddress(): string | undefined {
    const o = this.owner;
    return o && o.id !== this.options.replicaId ? o.address : undefined;
  }

  /** Called with each new owner (a new lease epoch) seen after start. */
  onOwnerChanged(listener: (ownerId: string, epoch: number) => void): void {
    this.listeners.add(listener);
  }

  /** Reads the lease (and the owner's row); concurrent callers share one read. */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    const lease = await this.leases.get();
    const held = lease !== undefined && lease.holder !== "" && lease.expiresAtMs > lease.nowMs;
    if (!held) {
      this.owner = undefined;
      return;
    }
    const before = this.owner;
    const known = before?.id === lease.holder && before.epoch === lease.epoch && before.address !== undefined;
    const address = known ? before.address : (await this.members.list()).find((r) => r.id === lease.holder)?.address;
    this.owner = { id: lease.holder, epoch: lease.epoch, address };
    const seen = this.epoch;
    this.epoch = lease.epoch;
    // The first read only learns the owner: agents are asked for full reports when they attach.
    if (seen === 0 || seen === lease.epoch) return;
    this.logger.info({ owner: lease.holder, epoch: lease.epoch }, "the chunk index has a new owner");
    for (const l of this.listeners) l(lease.holder, lease.epoch);
  }
}
