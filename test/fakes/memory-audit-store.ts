import type { AuditEvent, AuditFilter, AuditStore } from "../../src/model/audit.js";

/** An in-memory AuditStore for unit tests: events newest first, filtered as the real store filters them. */
export class MemoryAuditStore implements AuditStore {
  readonly rows: AuditEvent[] = [];

  async append(events: AuditEvent[]): Promise<void> {
    this.rows.push(...events.map((e) => structuredClone(e)));
  }

  async list(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.rows
      .filter((e) => (!filter.actor || e.actor === filter.actor) && (!filter.rpc || e.rpc === filter.rpc) && (!filter.since || e.time >= filter.since))
      .filter((e) => !filter.beforeId || e.id < filter.beforeId)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, filter.limit);
  }
}
