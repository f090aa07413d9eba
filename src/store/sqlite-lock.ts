import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";

/** Another process serves this SQLite database: start-up stops, saying which and what to do. */
export class StoreInUseError extends Error {
  constructor(path: string, holder: string) {
    super(
      `the SQLite database ${path} is in use by another Capstan process (${holder}). ` +
        "SQLite serves one process: stop the other one, or run several replicas on PostgreSQL (DATABASE_URL=postgresql://...).",
    );
    this.name = "StoreInUseError";
  }
}

/**
 * Holds the right to serve one SQLite database for the life of this process.
 * SQLite is the single-process default: a second Capstan on the same file
 * would keep its own in-memory views and silently diverge (several replicas
 * need PostgreSQL). The lock is SQLite's own: an exclusive transaction on a
 * small companion database (`<file>-lock`), held open. The operating system
 * releases it when the process ends in any way, SIGKILL included, so there
 * is no stale lock to detect; a second process gets SQLITE_BUSY at once.
 * @param path the database file
 * @returns the function that releases the lock
 * @throws StoreInUseError when another process holds it, naming that process
 */
export async function lockSqliteFile(path: string): Promise<() => void> {
  const { default: Sqlite } = await import("better-sqlite3");
  const lockPath = `${path}-lock`;
  const holderPath = `${path}-lock.holder`;
  const db = new Sqlite(lockPath, { timeout: 0 });
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    let holder = "another process";
    try {
      holder = readFileSync(holderPath, "utf8").trim() || holder;
    } catch {
      // The holder had not written its name yet; the lock itself is what counts.
    }
    throw new StoreInUseError(path, holder);
  }
  // Informational only, for the message a second process prints.
  writeFileSync(holderPath, `pid ${process.pid} on ${hostname()}, since ${new Date().toISOString()}\n`);
  return () => db.close();
}
