import { createHash, randomUUID } from "node:crypto";
import type { ArgType, SqlDriverAdapter } from "@prisma/driver-adapter-utils";

/** One migration as read from prisma/<provider>/migrations. */
export interface MigrationScript {
  name: string;
  sql: string;
}

// Prisma's own DDL for its history table on SQLite, byte for byte, so that the
// schema engine (and `prisma migrate status` elsewhere) reads the history as its own.
const HISTORY_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

const text = (n: number): ArgType[] => Array.from({ length: n }, () => ({ scalarType: "string", arity: "scalar" }));

/** Prisma's timestamp format in the history table: ISO 8601 with an explicit +00:00. */
const stamp = () => new Date().toISOString().replace("Z", "+00:00");

/** Whether a SQLite database has no tables at all (a new file). */
export async function isEmptySqlite(db: SqlDriverAdapter): Promise<boolean> {
  const result = await db.queryRaw({ sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table'", args: [], argTypes: [] });
  return Number(result.rows[0]?.[0] ?? 0) === 0;
}

/**
 * Applies every migration to a new, empty SQLite database without Prisma's
 * schema engine, recording each in _prisma_migrations exactly as the engine
 * does (its DDL, a sha256 checksum of the script, one applied step), so the
 * engine later sees a history it wrote itself and applies only what is new.
 *
 * Why: the engine is a Wasm module that takes about 0.3 s to load, the largest
 * single part of a first `npm start`. On an empty database there is nothing
 * to diff or check, so running the scripts in order is all the engine would do.
 * Only for SQLite, which one process holds (sqlite-lock.ts); PostgreSQL keeps
 * the engine and its advisory lock, since replicas may start together.
 */
export async function applyToEmptySqlite(db: SqlDriverAdapter, migrations: readonly MigrationScript[]): Promise<string[]> {
  await db.executeScript(HISTORY_TABLE);
  const applied: string[] = [];
  for (const m of migrations) {
    const id = randomUUID();
    const checksum = createHash("sha256").update(m.sql).digest("hex");
    await db.executeRaw({
      sql: 'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count") VALUES (?, ?, ?, ?, 0)',
      args: [id, checksum, m.name, stamp()],
      argTypes: text(4),
    });
    await db.executeScript(m.sql);
    await db.executeRaw({
      sql: 'UPDATE "_prisma_migrations" SET "finished_at" = ?, "applied_steps_count" = 1 WHERE "id" = ?',
      args: [stamp(), id],
      argTypes: text(2),
    });
    applied.push(m.name);
  }
  return applied;
}
