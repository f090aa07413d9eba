import type { AuditEvent, AuditFilter, AuditStore } from "../model/audit.js";
import type { DbClient } from "./db.js";
import type { WriteScope } from "./change-log.js";
import { jsonRows } from "./json-rows.js";
import type { Provider } from "./providers.js";

/** AuditStore on Prisma: append-only, read newest first by time-ordered id. */
export class PrismaAuditStore implements AuditStore {
  // The audit trail is read from the store, never from memory: its rows need no change feed
  // entries, and its appends use the bare client (no transaction of their own).
  private readonly db: DbClient;

  constructor(
    scope: WriteScope,
    private readonly provider: Provider,
  ) {
    this.db = scope.db;
  }

  /**
   * One INSERT of every event, the rows bound as one JSON parameter. Through
   * the query builder (createMany), or as VALUES with a parameter per field,
   * each value is planned one by one (json-rows.ts): when 10,000 agents
   * register at once that raised the server's peak memory by about 65 MiB and
   * its heartbeat latency tail.
   */
  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = jsonRows(
      this.provider,
      [["id", "text"], ["time", "timestamp"], ["actor", "text"], ["actor_kind", "text"], ["rpc", "text"], ["target", "text"], ["outcome", "text"], ["message", "text"], ["peer", "text"]],
      events.map((e) => [e.id, e.time, e.actor, e.actorKind, e.rpc, e.target, e.outcome, e.message, e.peer]),
    );
    await this.db.$executeRaw`INSERT INTO audit_events (id, time, actor, actor_kind, rpc, target, outcome, message, peer) SELECT v.id, v.time, v.actor, v.actor_kind, v.rpc, v.target, v.outcome, v.message, v.peer FROM ${rows} AS v`;
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
