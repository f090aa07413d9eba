import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { Logger } from "pino";
import { migrationsDir, type Provider } from "./providers.js";
import { createSchemaEngine } from "./schema-engine.js";

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
  const engine = await createSchemaEngine(tracked);
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({
      migrationsList: await readMigrations(provider),
      filters: { externalTables: [], externalEnums: [] },
    });
    if (appliedMigrationNames.length) logger.info({ provider, applied: appliedMigrationNames }, "database migrated");
    return appliedMigrationNames;
  } finally {
    engine.free();
    await Promise.all(opened.map((a) => a.dispose()));
  }
}
