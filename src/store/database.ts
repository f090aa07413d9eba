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
import type { LeaseStore, MembershipStore } from "../model/leadership.js";
import { PrismaAuditStore } from "./audit-repository.js";
import { PrismaChunkTargetStore } from "./chunk-target-repository.js";
import { PrismaDeploymentStore } from "./deployment-repository.js";
import { PrismaJobStore } from "./job-repository.js";
import { PrismaLeaseStore, type CheckedTransaction } from "./lease-repository.js";
import { PrismaMembershipStore } from "./membership-repository.js";
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
  /** The leader lease row, and the fenced transactions a leader's decisions use. */
  readonly leases: LeaseStore;
  /** The control plane replicas' rows. */
  readonly members: MembershipStore;
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
  // Gated: a query outside a transaction must not run inside an open one (see sqlite-gate.ts).
  const prisma = new SqliteClient({ adapter: gateTransactions(new PrismaBetterSqlite3({ url: `file:${path}`, timeout: 5000 })) });
  await prisma.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
  return assemble("sqlite", path, prisma, logger, unlock);
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
  // A database that does not answer (a dropped route, not a refused connection) must fail calls
  // in seconds with Unavailable, not hold them until the RPC deadline.
  const pool = { connectionString, connectionTimeoutMillis: 5_000 };
  const prisma = new PostgresClient({ adapter: new PrismaPg(pool, schema ? { schema } : undefined) }) as unknown as Db;
  const u = new URL(url);
  return assemble("postgresql", `${u.host}${u.pathname}${schema ? `?schema=${schema}` : ""}`, prisma, logger);
}

/** The stores, on the client or on a client bound to a transaction, each classifying its faults. */
function stores(db: DbClient, health: StoreHealth): Omit<Transaction, "onCommit"> {
  return {
    nodes: faultAware(new PrismaNodeStore(db), health),
    jobs: faultAware(new PrismaJobStore(db), health),
    deployments: faultAware(new PrismaDeploymentStore(db), health),
    services: faultAware(new PrismaServiceStore(db), health),
    chunkTargets: faultAware(new PrismaChunkTargetStore(db), health),
    tokens: faultAware(new PrismaTokenStore(db), health),
    audit: faultAware(new PrismaAuditStore(db), health),
    tasks: faultAware(new PrismaTaskStore(db), health),
  };
}

/**
 * How long a fenced transaction may sit idle before PostgreSQL ends its
 * session: a leader paused inside one (SIGSTOP) would otherwise hold the lease
 * row's share lock and stall the takeover for as long as its socket lives.
 */
const FENCED_IDLE_LIMIT_MS = 5_000;

function assemble(provider: Provider, location: string, prisma: Db, logger: Logger, release = () => {}): Database {
  const health = new StoreHealth();
  const probe = new StoreProbe(health, () => probeWrite(prisma), logger);
  // The one transaction scope; `check` (the leader fence) runs first inside it when given.
  const checked: CheckedTransaction = async (check, work) => {
    const after: Array<() => Promise<void> | void> = [];
    const result = await guardStoreCall(
      () =>
        prisma.$transaction(async (client) => {
          await check(client);
          return work({ ...stores(client, health), onCommit: (fn) => void after.push(fn) });
        }),
      health,
      true,
    );
    for (const fn of after) await fn();
    return result;
  };
  return {
    provider,
    location,
    prisma,
    health,
    ...stores(prisma, health),
    leases: faultAware(new PrismaLeaseStore(prisma, provider, checked, FENCED_IDLE_LIMIT_MS), health),
    members: faultAware(new PrismaMembershipStore(prisma), health),
    transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
      return checked(async () => {}, work);
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
