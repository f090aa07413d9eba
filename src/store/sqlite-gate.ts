import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from "@prisma/driver-adapter-utils";

/**
 * Keeps SQLite's interactive transactions to themselves. Prisma's
 * better-sqlite3 adapter runs everything on one connection, and a query
 * outside a transaction does not wait for an open one: it runs inside it, so
 * a rollback also undoes an unrelated write made meanwhile (a heartbeat
 * flush, another node's registration). Here a query outside a transaction
 * waits until no transaction is open or waiting; transactions take turns as
 * the adapter already makes them. better-sqlite3 runs each query
 * synchronously, so once a query starts nothing can begin in between.
 */
export function gateTransactions(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => gate(await factory.connect()),
  };
}

function gate(adapter: SqlDriverAdapter): SqlDriverAdapter {
  let open = 0;
  let idle: Promise<void> = Promise.resolve();
  let wake: () => void = () => undefined;
  const enter = (): void => {
    if (open++ === 0) idle = new Promise((resolve) => (wake = resolve));
  };
  const leave = (): void => {
    if (--open === 0) wake();
  };
  const outside = async <T>(run: () => Promise<T>): Promise<T> => {
    while (open > 0) await idle;
    return run();
  };
  const finish = (tx: Transaction): Transaction => {
    let done = false;
    const end = async (how: () => Promise<void>): Promise<void> => {
      try {
        await how();
      } finally {
        if (!done) {
          done = true;
          leave();
        }
      }
    };
    return {
      provider: tx.provider,
      adapterName: tx.adapterName,
      options: tx.options,
      queryRaw: (q) => tx.queryRaw(q),
      executeRaw: (q) => tx.executeRaw(q),
      commit: () => end(() => tx.commit()),
      rollback: () => end(() => tx.rollback()),
      createSavepoint: tx.createSavepoint?.bind(tx),
      rollbackToSavepoint: tx.rollbackToSavepoint?.bind(tx),
      releaseSavepoint: tx.releaseSavepoint?.bind(tx),
    };
  };
  return {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (q: SqlQuery) => outside(() => adapter.queryRaw(q)),
    executeRaw: (q: SqlQuery) => outside(() => adapter.executeRaw(q)),
    executeScript: (script: string) => outside(() => adapter.executeScript(script)),
    getConnectionInfo: adapter.getConnectionInfo?.bind(adapter),
    dispose: () => adapter.dispose(),
    async startTransaction(isolationLevel) {
      enter();
      try {
        return finish(await adapter.startTransaction(isolationLevel));
      } catch (err) {
        leave();
        throw err;
      }
    },
  };
}
