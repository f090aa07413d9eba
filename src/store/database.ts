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
import { PrismaTaskStore } from "./task-repository.js";
import type { TaskStore } from "../model/task.js";
import { PrismaServiceStore } from "./service-repository.js";
import { PrismaTokenStore } from "./token-repository.js";
import type { Db, DbClient } from "./db.js";
import { gateTransactions } from "./sqlite-gate.js";
import { lockSqliteFile } from "./sqlite-lock.js";
import { StoreHealth } from "../state/store-health.js";
import { faultAware, guardStoreCall } from "./store-faults.js";
import { probeWrite, StoreProbe } from "./store-probe.js";
import type { Transaction, UnitOfWork } from "../model/unit-of-work.js";
import type { StoreObserver } from "../model/store-observer.js";

/** The opened database: its stores, its transaction scope and its lifecycle. */
export interface Database extends UnitOfWork {
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
  readonly tasks: TaskStore;
  /** The raw client, for tests that inspect rows. */
  readonly prisma: Db;
  /**
   * Whether the store takes writes, from real outcomes: every store above
   * reports its database faults here (and throws StoreUnavailableError for
   * them); a probe write confirms recovery.
   */
  readonly health: StoreHealth;
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
export async function openDatabase(url: string | undefined, logger: Logger, observe?: StoreObserver): Promise<Database> {
  if (url && /^postgres(ql)?:\/\//.test(url)) return openPostgres(url, logger, observe);
  const path = resolve(url ? url.replace(/^file:(\/\/)?/, "") : DEFAULT_SQLITE_PATH);
  mkdirSync(dirname(path), { recursive: true });
  const unlock = await lockSqliteFile(path);
  try {
    return await openSqliteLocked(path, logger, unlock, observe);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function openSqliteLocked(path: string, logger: Logger, unlock: () => void, observe: StoreObserver | undefined): Promise<Database> {
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
  // Gated: a query outside a transaction must not run inside an open one (see sqlite-gate.ts).
  const prisma = new SqliteClient({ adapter: gateTransactions(new PrismaBetterSqlite3({ url: `file:${path}`, timeout: 5000 })) });
  await prisma.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
  return assemble("sqlite", path, prisma, logger, observe, unlock);
}

async function openPostgres(url: string, logger: Logger, observe: StoreObserver | undefined): Promise<Database> {
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
  // A database that does not answer (a dropped route, not a refused connection) must fail calls
  // in seconds with Unavailable, not hold them until the RPC deadline.
  const pool = { connectionString, connectionTimeoutMillis: 5_000 };
  const prisma = new PostgresClient({ adapter: new PrismaPg(pool, schema ? { schema } : undefined) }) as unknown as Db;
  const u = new URL(url);
  return assemble("postgresql", `${u.host}${u.pathname}${schema ? `?schema=${schema}` : ""}`, prisma, logger, observe);
}

/** The stores, on the client or on a client bound to a transaction, each classifying its faults (and telling `observe` of its writes). */
function stores(db: DbClient, health: StoreHealth, observe: StoreObserver | undefined): Omit<Transaction, "onCommit"> {
  return {
    nodes: faultAware(new PrismaNodeStore(db), health, observe, "nodes"),
    jobs: faultAware(new PrismaJobStore(db), health, observe, "jobs"),
    deployments: faultAware(new PrismaDeploymentStore(db), health, observe, "deployments"),
    services: faultAware(new PrismaServiceStore(db), health, observe, "services"),
    chunkTargets: faultAware(new PrismaChunkTargetStore(db), health, observe, "chunk_targets"),
    tokens: faultAware(new PrismaTokenStore(db), health, observe, "tokens"),
    audit: faultAware(new PrismaAuditStore(db), health, observe, "audit"),
    tasks: faultAware(new PrismaTaskStore(db), health, observe, "tasks"),
  };
}

function assemble(provider: Provider, location: string, prisma: Db, logger: Logger, observe: StoreObserver | undefined, release = () => {}): Database {
  const health = new StoreHealth();
  const probe = new StoreProbe(health, () => probeWrite(prisma), logger);
  return {
    provider,
    location,
    prisma,
    health,
    ...stores(prisma, health, observe),
    async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
      const after: Array<() => Promise<void> | void> = [];
      const result = await guardStoreCall(
        () => prisma.$transaction(async (client) => work({ ...stores(client, health, observe), onCommit: (fn) => void after.push(fn) })),
        health,
        true,
        observe && { observe, op: "transaction" },
      );
      for (const fn of after) await fn();
      return result;
    },
    async ping() {
      try {
        await guardStoreCall(() => prisma.$queryRawUnsafe("SELECT 1"), health, false);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await probe.close();
      await prisma.$disconnect().finally(release);
    },
  };
}
