import type { ControlReplica, MembershipStore } from "../model/leadership.js";
import type { DbClient } from "./db.js";

/** MembershipStore on Prisma (control_replicas). */
export class PrismaMembershipStore implements MembershipStore {
  constructor(private readonly db: DbClient) {}

  async upsert(r: ControlReplica): Promise<void> {
    const row = { address: r.address, version: r.version, startedAt: r.startedAt, lastSeenAt: r.lastSeenAt, agents: r.agents };
    await this.db.controlReplica.upsert({ where: { id: r.id }, create: { id: r.id, ...row }, update: row });
  }

  async list(): Promise<ControlReplica[]> {
    return this.db.controlReplica.findMany({ orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
  }

  async remove(id: string): Promise<void> {
    await this.db.controlReplica.deleteMany({ where: { id } });
  }

  async removeSeenBefore(time: Date): Promise<number> {
    const { count } = await this.db.controlReplica.deleteMany({ where: { lastSeenAt: { lt: time } } });
    return count;
  }
}
