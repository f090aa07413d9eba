import type { AuditEvent, AuditFilter, AuditStore } from "../domain/audit-log.js";
import type { Db } from "./database.js";

/** AuditStore on Prisma: append-only, read newest first by time-ordered id. */
export class PrismaAuditStore implements AuditStore {
  constructor(private readonly db: Db) {}

  async append(events: AuditEvent[]): Promise<void> {
    await this.db.auditEvent.createMany({ data: events });
  }

  async list(f: AuditFilter): Promise<AuditEvent[]> {
    return this.db.auditEvent.findMany({
      where: {
        ...(f.actor ? { actor: f.actor } : {}),
        ...(f.rpc ? { rpc: f.rpc } : {}),
        ...(f.since ? { time: { gte: f.since } } : {}),
        ...(f.beforeId ? { id: { lt: f.beforeId } } : {}),
      },
      orderBy: { id: "desc" },
      take: f.limit,
    });
  }
}
