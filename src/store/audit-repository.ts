import { Prisma } from "../../gen/prisma/sqlite/client.js";
import type { AuditEvent, AuditFilter, AuditStore } from "../model/audit.js";
import type { DbClient } from "./db.js";
import type { WriteScope } from "./change-log.js";

/** AuditStore on Prisma: append-only, read newest first by time-ordered id. */
export class PrismaAuditStore implements AuditStore {
  // The audit trail is read from the store, never from memory: its rows need no change feed
  // entries, and its appends use the bare client (no transaction of their own).
  private readonly db: DbClient;

  constructor(scope: WriteScope) {
    this.db = scope.db;
  }

  /**
   * One multi-row INSERT written as SQL with bound values. Through the query
   * builder (createMany) each row's fields are parameterised and planned one by
   * one; when 10,000 agents register at once that garbage alone raised the
   * server's peak memory by about 65 MiB and its heartbeat latency tail.
   */
  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => Prisma.sql`(${e.id}, ${e.time}, ${e.actor}, ${e.actorKind}, ${e.rpc}, ${e.target}, ${e.outcome}, ${e.message}, ${e.peer})`);
    await this.db.$executeRaw`INSERT INTO audit_events (id, time, actor, actor_kind, rpc, target, outcome, message, peer) VALUES ${Prisma.join(rows)}`;
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
