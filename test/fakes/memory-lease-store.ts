import { NotLeaderError } from "../../src/model/errors.js";
import type { ControlReplica, Lease, LeaseStore, MembershipStore } from "../../src/model/leadership.js";
import type { Transaction } from "../../src/model/unit-of-work.js";

/** An in-memory LeaseStore with the Prisma store's rules (free when released or expired; epoch + 1 per takeover). */
export class MemoryLeaseStore implements LeaseStore {
  lease: { holder: string; epoch: number; expiresAtMs: number } | undefined;

  constructor(
    private readonly transaction: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(holder: string, ttlMs: number, sole = false): Promise<number | undefined> {
    if (!sole && this.lease && this.lease.expiresAtMs > this.now()) return undefined;
    this.lease = { holder, epoch: (this.lease?.epoch ?? 0) + 1, expiresAtMs: this.now() + ttlMs };
    return this.lease.epoch;
  }

  async renew(holder: string, epoch: number, ttlMs: number, sole = false): Promise<boolean> {
    const l = this.lease;
    if (!l || l.holder !== holder || l.epoch !== epoch || (!sole && l.expiresAtMs <= this.now())) return false;
    l.expiresAtMs = this.now() + ttlMs;
    return true;
  }

  async release(holder: string, epoch: number): Promise<void> {
    if (this.lease?.holder === holder && this.lease.epoch === epoch) this.lease = { holder: "", epoch, expiresAtMs: 0 };
  }

  async get(): Promise<Lease | undefined> {
    return this.lease && { ...this.lease, nowMs: this.now() };
  }

  fenced<T>(holder: string, epoch: number, work: (tx: Transaction) => Promise<T>): Promise<T> {
    const current = this.lease?.holder === holder ? this.lease.epoch : 0;
    if (epoch === 0 || current !== epoch) return Promise.reject(new NotLeaderError(epoch, current));
    return this.transaction(work);
  }
}

/** An in-memory MembershipStore. */
export class MemoryMembershipStore implements MembershipStore {
  readonly rows = new Map<string, ControlReplica>();

  async upsert(r: ControlReplica): Promise<void> {
    this.rows.set(r.id, { ...r });
  }

  async list(): Promise<ControlReplica[]> {
    return [...this.rows.values()].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  }

  async remove(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async removeSeenBefore(time: Date): Promise<number> {
    let n = 0;
    for (const [id, r] of this.rows) if (r.lastSeenAt < time && this.rows.delete(id)) n++;
    return n;
  }
}
