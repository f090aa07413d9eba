import { ChangeCollector } from "./change-log.js";
import type { DbClient } from "./db.js";

/** One write: its statements on the transaction's client, noting its changes. */
export type TransactionWork<T> = (client: DbClient, changes: ChangeCollector) => Promise<T>;

/** Runs work in one transaction of its own and commits it (with its change rows). */
export type RunTransaction = <T>(work: TransactionWork<T>) => Promise<T>;

interface Pending {
  work: TransactionWork<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit for SQLite, whose one connection runs one transaction at a
 * time anyway: writes that arrive while a transaction is open wait for it,
 * then go together in the next one, each inside a savepoint of its own. A
 * write that fails is rolled back to its savepoint and fails alone; the
 * others commit, and each caller is answered only after the commit (a
 * transaction that fails as a whole fails every write in it). Without this,
 * agents connecting at once each waited for a whole interactive transaction
 * of their own, several event-loop turns long (bench:store-writes).
 *
 * Not used on PostgreSQL: there each write keeps a transaction and a
 * connection of its own, so writes on several connections cannot deadlock
 * on rows that a batch would take in an arbitrary order.
 */
export function groupCommits(run: RunTransaction, maxBatch: number): RunTransaction {
  const queue: Pending[] = [];
  let draining = false;

  const runBatch = async (batch: Pending[]): Promise<void> => {
    const outcomes: Outcome[] = [];
    try {
      await run(async (client, changes) => {
        for (const [i, item] of batch.entries()) outcomes.push(await inSavepoint(client, `capstan_w${i}`, item.work, changes));
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i];
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  };

  const drain = async (): Promise<void> => {
    draining = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      if (batch.length === 1) await run(batch[0].work).then(batch[0].resolve, batch[0].reject);
      else await runBatch(batch);
      // Reads waiting behind the transaction get their turn, and more writes gather.
      await new Promise((r) => setImmediate(r));
    }
    draining = false;
  };

  return <T>(work: TransactionWork<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!draining) void drain();
    });
}

/** One write of a batch, in its own savepoint: its changes count only if it succeeds. */
async function inSavepoint(client: DbClient, name: string, work: TransactionWork<unknown>, changes: ChangeCollector): Promise<Outcome> {
  await client.$executeRawUnsafe(`SAVEPOINT ${name}`);
  const own = new ChangeCollector();
  try {
    const value = await work(client, own);
    await client.$executeRawUnsafe(`RELEASE ${name}`);
    changes.absorb(own);
    return { ok: true, value };
  } catch (error) {
    // If this fails too, the transaction is gone (SQLite rolled it back): the whole batch fails.
    await client.$executeRawUnsafe(`ROLLBACK TO ${name}`);
    await client.$executeRawUnsafe(`RELEASE ${name}`);
    return { ok: false, error };
  }
}
