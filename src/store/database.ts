import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Logger } from "pino";
import type { ChunkTargetStore } from "../model/chunk-target-store.js";
import type { DeploymentStore } from "../model/deployment.js";
import type { JobStore } from "../model/job-store.js";
import type { NodeStore } from "../model/node-store.js";
import type { ServiceStore } from "../model/service-store.js";
import type { TokenStore } from "../model/token-store.js";
import type { AuditStore } from "../model/audit.js";
import { PrismaAuditStore } from "./audit-repository.js";
import { PrismaChunkTargetStore } from "./chunk-target-repository.js";
import { PrismaDeploymentStore } from "./deployment-repository.js";
import { PrismaJobStore } from "./job-repository.js";
import { applyMigrations } from "./migrate.js";
import { PrismaNodeStore } from "./node-repository.js";
import type { Provider } from "./providers.js";
import { PrismaServiceStore } from "./service-repository.js";
import { PrismaTokenStore } from "./token-repository.js";
import type { Db } from "./db.js";
import { lockSqliteFile } from "./sqlite-lock.js";



/** The opened database: its stores and its lifecycle. */
export interface Database {
  readonly provider: Provider;
  /** Where it is, without credentials, for logs. */
  readonly location: string;
  readonly nodes: NodeStore;
  readonly jobs: JobStore;
  readonly deployments: DeploymentStore;
  readonly services: ServiceStore;
  readonly chunkTargets: ChunkTargetStore;
  readonly tokens: TokenStore;
  readonly audit: AuditStore;
  /** The raw client, for tests that inspect rows. */
  readonly prisma: Db;
  /** Resolves true when the database answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The embedded default when DATABASE_URL is unset. */
export const DEFAULT_SQLITE_PATH = "./data/capstan.db";

/**
 * Opens the database DATABASE_URL names (embedded SQLite at ./data/capstan.db
 * when unset; file:PATH for SQLite elsewhere; postgresql:// for PostgreSQL),
 * applies pending migrations, and returns its stores.
 */
export async function openDatabase(url: string | undefined, logger: Logger): Promise<Database> {
  if (url && /^postgres(ql)?:\/\//.test(url)) return openPostgres(url, logger);
  const path = resolve(url ? url.replace(/^file:(\/\/)?/, "") : DEFAULT_SQLITE_PATH);
  mkdirSync(dirname(path), { recursive: true });
  const unlock = await lockSqliteFile(path);
  try {
    return await openSqliteLocked(path, logger, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function openSqliteLocked(path: string, logger: Logger, unlock: () => void): Promise<Database> {
  // Each provider's client and driver load only when used: the other one's cost a
  // noticeable part of start-up time for nothing.
  const [{ default: Sqlite }, { PrismaBetterSqlite3 }, { PrismaClient: SqliteClient }] = await Promise.all([
    import("better-sqlite3"),
    import("@prisma/adapter-better-sqlite3"),
    import("../../gen/prisma/sqlite/client.js"),
  ]);
  // WAL (persistent in the file) lets reads proceed during writes. It is set on a
  // connection of its own, before the migrator's connection holds the file.
  const setup = new Sqlite(path);
  setup.pragma("journal_mode = WAL");
  setup.close();
  await applyMigrations("sqlite", new PrismaBetterSqlite3({ url: `file:${path}`, timeout: 5000 }), logger);
  // timeout is SQLite's busy timeout: a writer waits for another instead of failing.
  const prisma = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: `file:${path}`, timeout: 5000 }) });
  await prisma.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
  return assemble("sqlite", path, prisma, unlock);
}

async function openPostgres(url: string, logger: Logger): Promise<Database> {
  const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([import("@prisma/adapter-pg"), import("../../gen/prisma/postgresql/client.js")]);
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? undefined;
  if (schema !== undefined) {
    // Prisma's ?schema= is not a pg option: the migrator's unqualified DDL follows
    // the search_path, so set that on every connection instead.
    parsed.searchParams.delete("schema");
    parsed.searchParams.set("options", `-c search_path=${schema}`);
  }
  const connectionString = parsed.toString();
  await applyMigrations("postgresql", new PrismaPg({ connectionString }, schema ? { schema } : undefined), logger);
  const prisma = new PostgresClient({ adapter: new PrismaPg({ connectionString }, schema ? { schema } : undefined) }) as unknown as Db;
  const u = new URL(url);
  return assemble("postgresql", `${u.host}${u.pathname}${schema ? `?schema=${schema}` : ""}`, prisma);
}

function assemble(provider: Provider, location: string, prisma: Db, release = () => {}): Database {
  return {
    provider,
    location,
    prisma,
    nodes: new PrismaNodeStore(prisma),
    jobs: new PrismaJobStore(prisma),
    deployments: new PrismaDeploymentStore(prisma),
    services: new PrismaServiceStore(prisma),
    chunkTargets: new PrismaChunkTargetStore(prisma),
    tokens: new PrismaTokenStore(prisma),
    audit: new PrismaAuditStore(prisma),
    async ping() {
      try {
        await prisma.$queryRawUnsafe("SELECT 1");
        return true;
      } catch {
        return false;
      }
    },
    close: () => prisma.$disconnect().finally(release),
  };
}
