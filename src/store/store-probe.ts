import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { StoreHealth } from "../state/store-health.js";
import type { Db } from "./db.js";
import { storeFaultReason } from "./store-faults.js";

/** How often a failing store is probed with a write. */
export const PROBE_INTERVAL_MS = 5_000;

// Larger than a page (4 KiB on both databases), so the probe always needs new space:
// overflow pages on SQLite, a TOAST row on PostgreSQL, and WAL space on both.
const PROBE_PAYLOAD = "p".repeat(12_000);

/**
 * The probe write: one committed transaction that inserts a row into the
 * audit table and deletes it again. Nothing stays behind and no reader sees
 * the row (it is never committed as present), yet the database must find
 * room for it and write its log, which is what failing writes could not do.
 */
export async function probeWrite(db: Db): Promise<void> {
  const id = `~probe-${randomUUID()}`;
  await db.$transaction([
    db.$executeRaw`INSERT INTO audit_events (id, time, actor, actor_kind, rpc, target, outcome, message, peer)
      VALUES (${id}, ${new Date()}, ${"capstan"}, ${"probe"}, ${"store-probe"}, ${""}, ${"ok"}, ${PROBE_PAYLOAD}, ${""})`,
    db.$executeRaw`DELETE FROM audit_events WHERE id = ${id}`,
  ]);
}

/**
 * Watches a failing store back to health: while StoreHealth says failing, a
 * probe write runs every PROBE_INTERVAL_MS, and at once when an ordinary write
 * succeeds; the first probe that succeeds marks the store ok. Logs each
 * transition once (the failing calls themselves are logged where they fail).
 */
export class StoreProbe {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly offs: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly health: StoreHealth,
    private readonly write: () => Promise<void>,
    private readonly logger: Logger,
    private readonly intervalMs = PROBE_INTERVAL_MS,
  ) {
    this.offs.push(
      health.onChange((c) => {
        if (!c.ok) {
          this.logger.error({ reason: c.reason }, "database failing: calls that need it answer Unavailable until a probe write succeeds");
          this.schedule();
        } else {
          clearInterval(this.timer);
          this.timer = undefined;
          this.logger.info("database recovered: a probe write succeeded");
        }
      }),
      health.onProbeWanted(() => void this.probe()),
    );
  }

  /** Runs one probe now, unless one is under way. */
  probe(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.running ??= this.write()
      .then(
        () => this.health.serving(),
        (err: unknown) => {
          const reason = storeFaultReason(err);
          if (reason !== undefined) this.health.failing(reason);
          else this.logger.error({ err }, "database probe write failed");
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops probing (at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const off of this.offs) off();
    await this.running;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }
}
