import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import Sqlite from "better-sqlite3";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { applyMigrations, applyWithEngine, readMigrations } from "../../src/store/migrate.js";

const logger = pino({ level: "silent" });
const opened: SqlDriverAdapter[] = [];

/** A factory on a file whose connections are closed after each test (the engine leaves its own open). */
function factory(path: string): SqlMigrationAwareDriverAdapterFactory {
  const inner = new PrismaBetterSqlite3({ url: `file:${path}` });
  const keep = (a: SqlDriverAdapter) => (opened.push(a), a);
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => keep(await inner.connect()),
    connectToShadowDb: async () => keep(await inner.connectToShadowDb()),
  };
}

/** The schema (every table, index and trigger with its SQL) and the migration history of a file. */
function readBack(path: string) {
  const db = new Sqlite(path, { readonly: true });
  try {
    return {
      schema: db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all(),
      history: db
        .prepare("SELECT migration_name, checksum, applied_steps_count, finished_at IS NOT NULL AS finished, rolled_back_at FROM _prisma_migrations ORDER BY migration_name")
        .all(),
    };
  } finally {
    db.close();
  }
}

const closeAll = () => Promise.all(opened.splice(0).map((a) => a.dispose()));
afterEach(closeAll);

describe("creating a new SQLite database without the schema engine", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-fresh-migrate-"));

  it("builds the same schema and history as Prisma's schema engine", async () => {
    const list = await readMigrations("sqlite");
    const native = join(dir, "native.db");
    const engine = join(dir, "engine.db");
    const applied = await applyMigrations("sqlite", factory(native), logger);
    expect(applied).toEqual(list.migrationDirectories.map((d) => d.path));
    expect(await applyWithEngine(factory(engine), list)).toEqual(applied);
    await closeAll();
    const a = readBack(native);
    const b = readBack(engine);
    expect(a.schema).toEqual(b.schema);
    expect(a.history).toEqual(b.history);
    expect(a.history.length).toBe(applied.length);
  });

  it("leaves a history the schema engine accepts as its own: it applies nothing more", async () => {
    const path = join(dir, "then-engine.db");
    await applyMigrations("sqlite", factory(path), logger);
    expect(await applyWithEngine(factory(path), await readMigrations("sqlite"))).toEqual([]);
  });

  it("leaves a file that already has tables to the schema engine, which refuses it as before", async () => {
    const path = join(dir, "existing.db");
    const db = new Sqlite(path);
    db.exec("CREATE TABLE keep_me (id INTEGER PRIMARY KEY); INSERT INTO keep_me VALUES (7)");
    db.close();
    await expect(applyMigrations("sqlite", factory(path), logger)).rejects.toThrow(/not empty/);
    await closeAll();
    const after = new Sqlite(path, { readonly: true });
    expect(after.prepare("SELECT id FROM keep_me").all()).toEqual([{ id: 7 }]);
    expect(after.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = '_prisma_migrations'").get()).toEqual({ n: 0 });
    after.close();
  });
});
