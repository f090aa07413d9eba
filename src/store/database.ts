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
import type { FactStore } from "../model/change-facts.js";
import { PrismaFactStore } from "./fact-repository.js";
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
import { writeSlots, type WriteSlots } from "./write-slots.js";
import { probeWrite, StoreProbe } from "./store-probe.js";
import type { Transaction, UnitOfWork } from "../model/unit-of-work.js";
import type { Change, ChangeFeed } from "../model/change-feed.js";
import { ChangeCollector, changesChannel, type WriteScope } from "./change-log.js";
import { groupCommits, type RunTransaction } from "./group-commit.js";
import { PrismaChangeFeed, type Listener } from "./change-feed-store.js";
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
  /** Facts (agent connections, scheduler decisions) written to the change feed as they are. */
  readonly facts: FactStore;
  /**
   * The ordered change feed every write above adds to in its own
   * transaction (see change-log.ts), as the replicas read it.
   */
  readonly feed: ChangeFeed;
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

/** How this process writes to the database. */
export interface DatabaseOptions {
  /** REPLICA_ID: recorded as the origin of every change this process writes (default "local"). */
  replicaId?: string;
  /** Told of each store write's latency and outcome (Prometheus metrics). */
  observe?: StoreObserver;
}

/** The embedded default when DATABASE_URL is unset. */
export const DEFAULT_SQLITE_PATH = "./data/capstan.db";

/**
 * Opens the database DATABASE_URL names (embedded SQLite at ./data/capstan.db
 * when unset; file:PATH for SQLite elsewhere; postgresql:// for PostgreSQL),
 * applies pending migrations, and returns its stores.
 */
export async function openDatabase(url: string | undefined, logger: Logger, options: DatabaseOptions = {}): Promise<Database> {
  const origin = options.replicaId ?? "local";
  const observe = options.observe;
  if (url && /^postgres(ql)?:\/\//.test(url)) return openPostgres(url, logger, origin, observe);
  const path = resolve(url ? url.replace(/^file:(\/\/)?/, "") : DEFAULT_SQLITE_PATH);
  mkdirSync(dirname(path), { recursive: true });
  const unlock = await lockSqliteFile(path);
  try {
    return await openSqliteLocked(path, logger, origin, unlock, observe);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function openSqliteLocked(path: string, logger: Logger, origin: string, unlock: () => void, observe: StoreObserver | undefined): Promise<Database> {
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
  // One process writes an SQLite file (sqlite-lock.ts): nobody else's commits to listen for.
  return assemble({ provider: "sqlite", location: path, prisma, logger, origin, listen: undefined, release: unlock, observe });
}

async function openPostgres(url: string, logger: Logger, origin: string, observe: StoreObserver | undefined): Promise<Database> {
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
  const pool = { connectionString, connectionTimeoutMillis: 5_000, max: PG_POOL_SIZE, idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_LIMIT_MS };
  const prisma = new PostgresClient({ adapter: new PrismaPg(pool, schema ? { schema } : undefined) }) as unknown as Db;
  const u = new URL(url);
  const { listenForChanges } = await import("./change-listener.js");
  return assemble({
    provider: "postgresql",
    location: `${u.host}${u.pathname}${schema ? `?schema=${schema}` : ""}`,
    prisma,
    logger,
    origin,
    listen: (wake) => listenForChanges(connectionString, changesChannel(schema), wake, logger),
    channel: changesChannel(schema),
    observe,
  });
}

/** The stores, on the client or on a client bound to a transaction, each classifying its faults (and telling `observe` of its writes). */
function stores(provider: Provider, scope: WriteScope, health: StoreHealth, observe: StoreObserver | undefined): Omit<Transaction, "onCommit"> {
  return {
    nodes: faultAware(new PrismaNodeStore(scope, provider), health, observe, "nodes"),
    jobs: faultAware(new PrismaJobStore(scope), health, observe, "jobs"),
    deployments: faultAware(new PrismaDeploymentStore(scope), health, observe, "deployments"),
    services: faultAware(new PrismaServiceStore(scope), health, observe, "services"),
    chunkTargets: faultAware(new PrismaChunkTargetStore(scope), health, observe, "chunk_targets"),
    tokens: faultAware(new PrismaTokenStore(scope), health, observe, "tokens"),
    facts: faultAware(new PrismaFactStore(scope), health, observe, "facts"),
    audit: faultAware(new PrismaAuditStore(scope, provider), health, observe, "audit"),
    // Tasks are read from the store, never kept in memory: their writes need no change rows.
    tasks: faultAware(new PrismaTaskStore(scope.db), health, observe, "tasks"),
  };
}

interface Parts {
  provider: Provider;
  location: string;
  prisma: Db;
  logger: Logger;
  /** REPLICA_ID, the origin of this process's changes. */
  origin: string;
  /** How to hear of other processes' commits (PostgreSQL only). */
  listen: Listener | undefined;
  /** The NOTIFY channel commits wake listeners on (PostgreSQL only). */
  channel?: string;
  release?: () => void;
  /** Told of each store write's latency and outcome (Prometheus metrics). */
  observe?: StoreObserver;
}

/**
 * How long any transaction may sit idle before PostgreSQL ends its session
 * (set on every pooled connection). A replica paused inside one (SIGSTOP, a
 * frozen VM) would otherwise hold its row locks for as long as its socket
 * lives: the lease row's share lock (stalling a takeover) or the change
 * counter's (every replica's writes wait for it, so the whole cluster stops
 * writing). A live process never idles this long: Prisma ends its own
 * transactions after 5 s.
 */
export const IDLE_IN_TRANSACTION_LIMIT_MS = 5_000;

/**
 * PostgreSQL connections per replica, and how many of them writing
 * transactions may hold at once. A burst of writes (thousands of agents
 * connecting) waits in this process for a slot instead of for a pooled
 * connection, where Prisma gives up after 2 s ("Unable to start a
 * transaction in the given time"); the slots left over keep reads going.
 * While the store fails, writes do not queue for a slot (write-slots.ts).
 */
const PG_POOL_SIZE = 10;
const PG_WRITE_SLOTS = 8;

/** The most writes one SQLite transaction carries (bounded so that none nears Prisma's 5 s transaction timeout). */
const GROUP_COMMIT_MAX = 64;

function assemble({ provider, location, prisma, logger, origin, listen, channel, release = () => {}, observe }: Parts): Database {
  const health = new StoreHealth();
  const probe = new StoreProbe(health, () => probeWrite(prisma), logger);
  const feed = new PrismaChangeFeed(prisma, listen);
  // One process's transactions on PostgreSQL take turns for the write slots (SQLite has one connection anyway).
  const slots: WriteSlots = provider === "postgresql" ? writeSlots(PG_WRITE_SLOTS, health) : (fn) => fn();
  /**
   * One interactive transaction: `check` first (the leader fence, when given),
   * the work, then its change rows (numbered last, see ChangeCollector.flush)
   * and, on PostgreSQL, a NOTIFY that is delivered when it commits. After the
   * commit, this process's own listeners hear of the changes.
   */
  const run = async <T>(check: (client: DbClient) => Promise<void>, work: (client: DbClient, changes: ChangeCollector) => Promise<T>): Promise<T> => {
    let committed: Change[] = [];
    const result = await guardStoreCall(
      () =>
        slots(() => prisma.$transaction(async (client) => {
          await check(client);
          const changes = new ChangeCollector();
          const out = await work(client, changes);
          committed = await changes.flush(client, origin, channel);
          return out;
        })),
      health,
      true,
    );
    feed.committed(committed);
    return result;
  };
  const unchecked = async () => {};
  const single: RunTransaction = (work) => run(unchecked, work);
  // SQLite runs one transaction at a time: concurrent writes share one (group-commit.ts).
  const write = provider === "sqlite" ? groupCommits(single, GROUP_COMMIT_MAX) : single;
  const root: WriteScope = { db: prisma, write: (work) => write((client, changes) => work(client, changes.note)) };
  // The one transaction scope every repository joins; then the onCommit functions run.
  const checked: CheckedTransaction = async (check, work) => {
    const after: Array<() => Promise<void> | void> = [];
    const result = await run(check, (client, changes) => {
      const scope: WriteScope = { db: client, write: (w) => w(client, changes.note) };
      return work({ ...stores(provider, scope, health, observe), onCommit: (fn) => void after.push(fn) });
    });
    for (const fn of after) await fn();
    return result;
  };
  return {
    provider,
    location,
    prisma,
    health,
    feed,
    ...stores(provider, root, health, observe),
    leases: faultAware(new PrismaLeaseStore(prisma, provider, checked), health),
    members: faultAware(new PrismaMembershipStore(prisma), health),
    transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
      return checked(unchecked, work);
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
