import { StoreUnavailableError } from "../model/errors.js";
import type { StoreObserver } from "../model/store-observer.js";
import type { StoreHealth } from "../state/store-health.js";

// Driver adapter error kinds (@prisma/driver-adapter-utils) that mean the database cannot be reached.
const UNREACHABLE_KINDS: Record<string, string> = {
  DatabaseNotReachable: "the database server cannot be reached",
  ConnectionClosed: "the connection to the database was closed",
  SocketTimeout: "the database did not answer in time",
  TooManyConnections: "the database has no free connections",
  TlsConnectionError: "the TLS connection to the database failed",
  TransactionAlreadyClosed: "the database closed the transaction",
};

// Prisma's own codes for a database it cannot reach or wait for.
const PRISMA_CODES: Record<string, string> = {
  P1001: "the database server cannot be reached",
  P1002: "the database server did not answer in time",
  P1008: "the database operation timed out",
  P1017: "the database server closed the connection",
  P2024: "no database connection was free in time",
  // Interactive transactions: none could start within maxWait (every connection busy, e.g. hundreds of agents
  // registering at once on PostgreSQL), or one outlived its timeout. The database is busy, the call is not wrong.
  P2028: "a database transaction could not start or finish in time",
};

// Of those, the codes that mean busy rather than failing: the call is refused (Unavailable, to be retried), but the
// store is not marked failing. Marking it would fail /health under a reconnect storm, and a load balancer would then
// take the replica out and cut its agents' streams, which reconnect elsewhere: a storm feeding itself.
const BUSY_CODES = new Set(["P2028"]);

/** Whether a store fault is the database being busy (see BUSY_CODES), following `cause` chains. */
export function storeBusy(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && BUSY_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

// SQLite result codes that say the file cannot take the write now, not that the write is wrong.
const SQLITE_CODES: Array<[RegExp, string]> = [
  [/^SQLITE_FULL/, "database or disk is full"],
  [/^SQLITE_(BUSY|LOCKED)/, "the database is locked by another writer"],
  [/^SQLITE_IOERR/, "disk I/O error"],
  [/^SQLITE_(CANTOPEN|READONLY|NOMEM|PROTOCOL)/, "the database file cannot be written"],
];

// PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk full,
// out of memory, too many connections), 57P admin shutdown / cannot connect now, 58 system (I/O) error.
const POSTGRES_STATE = /^(08|53|57P|58)/;

// pg's own errors for a connection that broke, which carry no code.
const BROKEN_CONNECTION = /Connection terminated|connection timeout|Client has encountered a connection error|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/i;

/**
 * Why a store call failed, when the failure is the database's state (down,
 * unreachable, full, locked, failing I/O) rather than the call itself (a
 * constraint violated, a bug): a short sentence safe to show callers, or
 * undefined. Reads what Prisma and the driver adapters put on their errors
 * (`meta.driverAdapterError.cause`, Prisma's P1xxx codes, SQLite result
 * codes, PostgreSQL SQLSTATEs), following `cause` chains.
 */
export function storeFaultReason(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const reason = reasonOf(e as Record<string, unknown>);
    if (reason) return reason;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function reasonOf(e: Record<string, unknown>): string | undefined {
  if (e.name === "PrismaClientInitializationError") return "the database connection could not be set up";
  const meta = e.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined;
  const cause = meta?.driverAdapterError?.cause;
  if (cause) {
    const byKind = typeof cause.kind === "string" ? UNREACHABLE_KINDS[cause.kind] : undefined;
    if (byKind) return byKind;
    if (cause.kind === "sqlite") return sqliteReason(cause.originalCode);
    if (cause.kind === "postgres" && typeof cause.code === "string" && POSTGRES_STATE.test(cause.code)) {
      return `the database refused the call (SQLSTATE ${cause.code})`;
    }
  }
  if (typeof e.code === "string") {
    if (PRISMA_CODES[e.code]) return PRISMA_CODES[e.code];
    const sqlite = sqliteReason(e.code);
    if (sqlite) return sqlite;
    if (/^[0-9A-Z]{5}$/.test(e.code) && POSTGRES_STATE.test(e.code) && typeof e.severity === "string") {
      return `the database refused the call (SQLSTATE ${e.code})`;
    }
  }
  if (typeof e.message === "string" && BROKEN_CONNECTION.test(e.message)) return "the connection to the database broke";
  return undefined;
}

function sqliteReason(code: unknown): string | undefined {
  if (typeof code !== "string") return undefined;
  return SQLITE_CODES.find(([pattern]) => pattern.test(code))?.[1];
}

// Store methods that only read; every other method writes.
const READ_METHOD = /^(get|list|find|count)/;

/**
 * Wraps a repository so every method classifies its failures once: a fault
 * of the database becomes StoreUnavailableError (the original error as its
 * cause) and marks the store failing; other errors pass unchanged. A write
 * that succeeds tells `health` so, which confirms a recovery (see StoreHealth).
 */
export function faultAware<T extends object>(store: T, health: StoreHealth, observe?: StoreObserver, name = ""): T {
  const wrapped: Record<string, unknown> = {};
  for (let proto = Object.getPrototypeOf(store) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const method of Object.getOwnPropertyNames(proto)) {
      const fn = (store as Record<string, unknown>)[method];
      if (method === "constructor" || method in wrapped || typeof fn !== "function") continue;
      const write = !READ_METHOD.test(method);
      // Only writes are observed: their latency and failures are what the store's health is about.
      const watch = write && observe ? { observe, op: name ? `${name}.${method}` : method } : undefined;
      wrapped[method] = (...args: unknown[]) => guardStoreCall(() => (fn as (...a: unknown[]) => Promise<unknown>).apply(store, args), health, write, watch);
    }
  }
  return wrapped as T;
}

/**
 * Runs one store call with the classification faultAware applies (for calls
 * outside a repository); `watch`, when given, is told of its end.
 */
export async function guardStoreCall<R>(call: () => Promise<R>, health: StoreHealth, write: boolean, watch?: { observe: StoreObserver; op: string }): Promise<R> {
  const started = watch ? performance.now() : 0;
  try {
    const result = await call();
    if (write) health.writeSucceeded();
    watch?.observe(watch.op, started, undefined);
    return result;
  } catch (err) {
    // Already classified (a guarded call inside a guarded transaction): counted, not wrapped again.
    if (err instanceof StoreUnavailableError) {
      if (!storeBusy(err.cause)) health.failing(err.reason);
      watch?.observe(watch.op, started, "unavailable");
      throw err;
    }
    const reason = storeFaultReason(err);
    watch?.observe(watch.op, started, reason === undefined ? "error" : "unavailable");
    if (reason === undefined) throw err;
    if (!storeBusy(err)) health.failing(reason);
    throw new StoreUnavailableError(reason, { cause: err });
  }
}
