import type { Change, ChangeEntity } from "../model/change-feed.js";
import type { DbClient } from "./db.js";
import { jsonRows, type JsonColumn } from "./json-rows.js";

/** A change row's own fields, as jsonRows passes them (seq: the number, or its offset in the batch). */
const CHANGE_COLUMNS: readonly JsonColumn[] = [["seq", "bigint"], ["entity", "text"], ["key", "text"], ["op", "text"], ["data", "text"]];

/**
 * The PostgreSQL NOTIFY channel a commit with changes wakes readers on (its
 * payload: the last seq). Channels are per database, not per schema: one per schema.
 */
export function changesChannel(schema: string | undefined): string {
  return schema ? `capstan_changes_${schema}` : "capstan_changes";
}

/** Notes one change made by the write it is passed to. */
export type NoteChange = (entity: ChangeEntity, key: string, op: "put" | "delete", data?: string) => void;

/**
 * How a repository writes: `write` runs its statements in the transaction
 * the repository is bound to, or in a transaction of their own when it is
 * bound to the bare client, and with them the change rows they note. Reads
 * use `db` directly.
 */
export interface WriteScope {
  readonly db: DbClient;
  write<T>(work: (db: DbClient, note: NoteChange) => Promise<T>): Promise<T>;
}

/** The changes one transaction notes, written just before it commits. */
export class ChangeCollector {
  private readonly notes: Array<Omit<Change, "seq" | "origin">> = [];
  private readonly seen = new Set<string>();

  readonly note: NoteChange = (entity, key, op, data) => {
    // A fact is its own row, every time: it is not state loaded later.
    if (data !== undefined) {
      this.notes.push({ entity, key, op, data });
      return;
    }
    // One row per thing per transaction: readers load its state as it is after the commit anyway.
    const id = `${entity}\u0000${key}\u0000${op}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.notes.push({ entity, key, op });
  };

  get size(): number {
    return this.notes.length;
  }

  /** What was noted, in order. */
  list(): ReadonlyArray<Omit<Change, "seq" | "origin">> {
    return this.notes;
  }

  /** Takes over what another collector noted (a write of a group commit that succeeded). */
  absorb(other: ChangeCollector): void {
    for (const c of other.list()) this.note(c.entity, c.key, c.op, c.data);
  }

  /**
   * Takes sequence numbers from the counter row and inserts the change rows,
   * inside the open transaction. The counter's row lock is held from here
   * to the commit, which is what makes seq order commit order: a second
   * writer waits at this UPDATE until the first commits (or rolls back), then
   * continues from the number the first left. The lock is taken last, so
   * writers are serialized only for these statements and the commit. With a
   * `channel` (PostgreSQL), a NOTIFY on it wakes the other replicas when
   * (and only if) the transaction commits.
   */
  async flush(db: DbClient, origin: string, channel: string | undefined): Promise<Change[]> {
    if (this.notes.length === 0) return [];
    if (channel !== undefined) return this.flushPostgres(db, origin, channel);
    const n = this.notes.length;
    const [{ seq: last }] = await db.$queryRaw<Array<{ seq: bigint | number }>>`UPDATE change_counter SET seq = seq + ${n} WHERE id = 1 RETURNING seq`;
    const first = Number(last) - n + 1;
    const changes = this.notes.map((c, i): Change => ({ ...c, seq: first + i, origin }));
    const rows = jsonRows("sqlite", CHANGE_COLUMNS, changes.map((c) => [c.seq, c.entity, c.key, c.op, c.data]));
    await db.$executeRaw`INSERT INTO changes (seq, entity, key, op, origin, created_at, data) SELECT v.seq, v.entity, v.key, v.op, ${origin}, ${new Date()}, v.data FROM ${rows} AS v`;
    return changes;
  }

  /**
   * PostgreSQL: the counter, the rows and the NOTIFY in one statement, so
   * the counter's lock is held for one round trip and the commit.
   */
  private async flushPostgres(db: DbClient, origin: string, channel: string): Promise<Change[]> {
    const n = this.notes.length;
    const rows = jsonRows("postgresql", CHANGE_COLUMNS, this.notes.map((c, i) => [i + 1, c.entity, c.key, c.op, c.data]));
    const [{ seq: last }] = await db.$queryRaw<Array<{ seq: string }>>`
      WITH c AS (UPDATE change_counter SET seq = seq + ${n}::bigint WHERE id = 1 RETURNING seq),
      ins AS (
        INSERT INTO changes (seq, entity, key, op, origin, created_at, data)
        SELECT c.seq - ${n}::bigint + v.seq, v.entity, v.key, v.op, ${origin}, now() AT TIME ZONE 'UTC', v.data
        FROM c, ${rows} AS v
        RETURNING seq
      )
      SELECT max(seq)::text AS seq, pg_notify(${channel}, max(seq)::text)::text AS notified FROM ins`;
    const first = Number(last) - n + 1;
    return this.notes.map((c, i): Change => ({ ...c, seq: first + i, origin }));
  }
}
