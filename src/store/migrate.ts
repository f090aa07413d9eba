import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { Logger } from "pino";
import { applyToEmptySqlite, isEmptySqlite } from "./fresh-migrate.js";
import { migrationsDir, type Provider } from "./providers.js";

/** The migration list as Prisma's schema engine reads it from disk. */
export async function readMigrations(provider: Provider) {
  const baseDir = migrationsDir(provider);
  const entries = (await readdir(baseDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const lockPath = join(baseDir, "migration_lock.toml");
  return {
    baseDir,
    lockfile: { path: lockPath, content: await readFile(lockPath, "utf8").catch(() => null) },
    shadowDbInitScript: "",
    migrationDirectories: await Promise.all(
      entries.map(async (dir) => ({
        path: dir,
        migrationFile: {
          path: "migration.sql",
          content: await readFile(join(baseDir, dir, "migration.sql"), "utf8").then(
            (value) => ({ tag: "ok" as const, value }),
            (err: Error) => ({ tag: "error" as const, value: err.message }),
          ),
        },
      })),
    ),
  };
}

/**
 * Applies pending migrations from prisma/<provider>/migrations, recording them
 * in _prisma_migrations with the checksums Prisma's CLI writes, so
 * `prisma migrate deploy` elsewhere sees the same history. Idempotent.
 */
export async function applyMigrations(provider: Provider, adapterFactory: SqlMigrationAwareDriverAdapterFactory, logger: Logger): Promise<string[]> {
  // The engine does not close the connections it opens; keep them to close them,
  // or SQLite stays locked (and PostgreSQL keeps a pool) after migrating.
  const opened: SqlDriverAdapter[] = [];
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: async () => keep(await adapterFactory.connect()),
    connectToShadowDb: async () => keep(await adapterFactory.connectToShadowDb()),
  };
  const keep = (a: SqlDriverAdapter) => {
    opened.push(a);
    return a;
  };
  const migrationsList = await readMigrations(provider);
  const wanted = migrationsList.migrationDirectories.map((d) => d.path);
  // The schema engine is a Wasm module that takes a good part of a second to load;
  // a database that has every migration (every start but the first) never needs it.
  if (await allApplied(tracked, wanted).finally(() => Promise.all(opened.splice(0).map((a) => a.dispose())))) return [];
  if (provider === "sqlite") {
    const fresh = await migrateIfEmpty(tracked, migrationsList.migrationDirectories).finally(() => Promise.all(opened.splice(0).map((a) => a.dispose())));
    if (fresh) {
      logger.info({ provider, applied: fresh }, "database created");
      return fresh;
    }
  }
  const applied = await applyWithEngine(tracked, migrationsList).finally(() => Promise.all(opened.map((a) => a.dispose())));
  if (applied.length) logger.info({ provider, applied }, "database migrated");
  return applied;
}

/**
 * Applies pending migrations through Prisma's schema engine (Wasm), as
 * `prisma migrate deploy` would; the caller closes the connections it opens.
 */
export async function applyWithEngine(
  factory: SqlMigrationAwareDriverAdapterFactory,
  migrationsList: Awaited<ReturnType<typeof readMigrations>>,
): Promise<string[]> {
  const { createSchemaEngine } = await import("./schema-engine.js");
  const engine = await createSchemaEngine(factory);
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({
      migrationsList,
      filters: { externalTables: [], externalEnums: [] },
    });
    return appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/**
 * Whether _prisma_migrations records every wanted migration as finished and
 * not rolled back. False when the table is missing (a new database) or
 * unreadable: the schema engine then decides, as it always did.
 */
export async function allApplied(factory: SqlMigrationAwareDriverAdapterFactory, wanted: string[]): Promise<boolean> {
  const db = await factory.connect();
  try {
    const result = await db.queryRaw({
      sql: "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
      args: [],
      argTypes: [],
    });
    const applied = new Set(result.rows.map((r) => String(r[0])));
    return wanted.every((name) => applied.has(name));
  } catch {
    return false;
  }
}

/**
 * On a new SQLite file, applies every migration without the schema engine
 * (see fresh-migrate.ts) and returns their names; undefined when the file
 * already has tables, so the engine decides as before.
 */
async function migrateIfEmpty(
  factory: SqlMigrationAwareDriverAdapterFactory,
  dirs: Awaited<ReturnType<typeof readMigrations>>["migrationDirectories"],
): Promise<string[] | undefined> {
  const db = await factory.connect();
  if (!(await isEmptySqlite(db))) return undefined;
  const scripts = dirs.map((d) => {
    const file = d.migrationFile.content;
    if (file.tag === "error") throw new Error(`cannot read migration ${d.path}: ${file.value}`);
    return { name: d.path, sql: file.value };
  });
  return applyToEmptySqlite(db, scripts);
}
