import pg from "pg";
import type { Logger } from "pino";

const RETRY_MS = 1_000;

/** The application_name of a replica's LISTEN session on `channel`. */
export function listenerName(channel: string): string {
  return `capstan-feed ${channel}`.slice(0, 63);
}

/**
 * Holds one PostgreSQL connection of its own in LISTEN on `channel` and
 * calls `wake` for each notification, and once after each (re)connect,
 * since notifications sent while it was away are lost. It must be a direct
 * session: a pooler in transaction mode (PgBouncer) hands the session to
 * others between statements, and the LISTEN with it. Resolves once the first
 * LISTEN is in place, to a function that stops listening.
 */
export async function listenForChanges(connectionString: string, channel: string, wake: () => void, logger: Logger): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    // Named, so an operator (or a test) can find this session in pg_stat_activity.
    const c = new pg.Client({ connectionString, keepAlive: true, application_name: listenerName(channel) });
    c.on("notification", () => wake());
    c.on("error", (err) => {
      // The socket broke: the next connect re-listens; the sweep covers the gap meanwhile.
      logger.warn({ err: err.message }, "change feed listener lost its connection; reconnecting");
      void c.end().catch(() => {});
      if (client === c) client = undefined;
      schedule();
    });
    await c.connect();
    await c.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
    if (stopped) {
      await c.end();
      return;
    }
    client = c;
    wake();
  };

  const schedule = (): void => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, "change feed listener cannot connect; retrying");
        schedule();
      });
    }, RETRY_MS);
    retry.unref();
  };

  try {
    await connect();
  } catch (err) {
    // Not fatal: the sweep keeps the replica current, only later.
    logger.warn({ err: (err as Error).message }, "change feed listener cannot connect; retrying");
    schedule();
  }
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
    client = undefined;
  };
}
