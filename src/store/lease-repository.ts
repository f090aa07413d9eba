import { Prisma } from "../../gen/prisma/sqlite/client.js";
import { NotLeaderError } from "../model/errors.js";
import type { Lease, LeaseStore } from "../model/leadership.js";
import type { Transaction } from "../model/unit-of-work.js";
import type { DbClient } from "./db.js";
import type { Provider } from "./providers.js";

/** The one lease row's name. */
const LEASE = "leader";

/** The database's clock in milliseconds since 1970, per dialect (never the replicas' clocks). */
const NOW_MS: Record<Provider, Prisma.Sql> = {
  postgresql: Prisma.raw("(extract(epoch from clock_timestamp()) * 1000)::bigint"),
  sqlite: Prisma.raw("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"),
};

/**
 * Runs work in one transaction of the database's scope, after `check` ran
 * first on the same transaction's client.
 */
export type CheckedTransaction = <T>(check: (client: DbClient) => Promise<void>, work: (tx: Transaction) => Promise<T>) => Promise<T>;

/**
 * The leader lease row (leader_lease), in SQL of each dialect: Prisma's model
 * API cannot say "take it only if expired, on the database's clock" in one
 * statement, nor lock a row for share.
 */
export class PrismaLeaseStore implements LeaseStore {
  constructor(
    private readonly db: DbClient,
    private readonly provider: Provider,
    private readonly transaction: CheckedTransaction,
  ) {}

  async acquire(holder: string, ttlMs: number, sole = false): Promise<number | undefined> {
    const now = NOW_MS[this.provider];
    const free = sole ? Prisma.raw("1 = 1") : Prisma.sql`leader_lease.expires_at <= ${now}`;
    // One statement: a lease that is free (released or expired on the database's clock) goes to
    // holder with the next epoch; a held one is left alone and nothing is returned.
    const rows = await this.db.$queryRaw<Array<{ epoch: number | bigint }>>`
      INSERT INTO leader_lease (name, holder, epoch, expires_at) VALUES (${LEASE}, ${holder}, 1, ${now} + ${ttlMs})
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = leader_lease.epoch + 1, expires_at = excluded.expires_at
      WHERE ${free}
      RETURNING epoch`;
    return rows.length > 0 ? Number(rows[0].epoch) : undefined;
  }

  async renew(holder: string, epoch: number, ttlMs: number, sole = false): Promise<boolean> {
    const now = NOW_MS[this.provider];
    // The sole process of a database renews even a lease that expired while it was starved.
    const live = sole ? Prisma.raw("1 = 1") : Prisma.sql`expires_at > ${now}`;
    const count = await this.db.$executeRaw`
      UPDATE leader_lease SET expires_at = ${now} + ${ttlMs}
      WHERE name = ${LEASE} AND holder = ${holder} AND epoch = ${epoch} AND ${live}`;
    return count > 0;
  }

  async release(holder: string, epoch: number): Promise<void> {
    await this.db.$executeRaw`UPDATE leader_lease SET holder = '', expires_at = 0 WHERE name = ${LEASE} AND holder = ${holder} AND epoch = ${epoch}`;
  }

  async get(): Promise<Lease | undefined> {
    const rows = await this.db.$queryRaw<Array<{ holder: string; epoch: number | bigint; expires_at: number | bigint; now_ms: number | bigint }>>`
      SELECT holder, epoch, expires_at, ${NOW_MS[this.provider]} AS now_ms FROM leader_lease WHERE name = ${LEASE}`;
    const r = rows[0];
    return r && { holder: r.holder, epoch: Number(r.epoch), expiresAtMs: Number(r.expires_at), nowMs: Number(r.now_ms) };
  }

  fenced<T>(holder: string, epoch: number, work: (tx: Transaction) => Promise<T>): Promise<T> {
    if (epoch === 0) return Promise.reject(new NotLeaderError(0, 0));
    return this.transaction(async (client) => {
      let current: number | undefined;
      if (this.provider === "postgresql") {
        // A leader paused inside this transaction (SIGSTOP) would hold the share lock and stall
        // every takeover: PostgreSQL ends any session idle in a transaction for 5 s (database.ts).
        // FOR SHARE: a takeover (which updates the row) waits until this decision commits or
        // rolls back, so a decision is either before the takeover or refused here.
        const rows = await client.$queryRaw<Array<{ epoch: number | bigint; holder: string }>>`SELECT epoch, holder FROM leader_lease WHERE name = ${LEASE} FOR SHARE`;
        current = rows[0] === undefined || rows[0].holder !== holder ? undefined : Number(rows[0].epoch);
      } else {
        // One process holds a SQLite file (sqlite-lock.ts), and its writes are serialized.
        const rows = await client.$queryRaw<Array<{ epoch: number | bigint; holder: string }>>`SELECT epoch, holder FROM leader_lease WHERE name = ${LEASE}`;
        current = rows[0] === undefined || rows[0].holder !== holder ? undefined : Number(rows[0].epoch);
      }
      // A released lease keeps its epoch with no holder: that refuses too.
      if (current !== epoch) throw new NotLeaderError(epoch, current ?? 0);
    }, work);
  }
}
