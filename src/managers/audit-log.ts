import type { Logger } from "pino";
import type { AuditEvent, AuditFilter, AuditRecorder, AuditStore } from "../model/audit.js";
import { newTimeOrderedId } from "../model/ids.js";

const FLUSH_DELAY_MS = 100;
// Small batches: the store's query engine keeps the memory its largest batch needed, and
// 10,000 agents registering at once would otherwise leave tens of MiB behind.
const FLUSH_BATCH = 100;
// If the store is down for long, memory must stay bounded: the oldest unsaved events go first.
const MAX_BUFFERED = 50_000;
const RETRY_MS = 1000;

/** A buffered event, and the call waiting for it to be stored, if one is. */
interface Pending {
  event: AuditEvent;
  waiter?: { resolve: () => void; reject: (err: unknown) => void };
}

/**
 * The audit trail. Events of acknowledged mutating calls are committed before
 * the call answers (commit): they are written at the next turn of the event
 * loop together with every event recorded meanwhile, so concurrent calls
 * share one INSERT (group commit) and a crash after an answer cannot lose the
 * event. Events nobody waits for (refused calls, agent registrations on
 * streams) are buffered and written within about 100 ms (record). Reads
 * flush first, so a caller always sees the events of calls it made; shutdown
 * flushes too.
 */
export class AuditLog implements AuditRecorder {
  private buffer: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
  ) {}

  /** Records an event; it reaches the store within about 100 ms. */
  record(event: Omit<AuditEvent, "id" | "time">): void {
    this.push({ event: stamp(event) });
    if (this.buffer.length >= FLUSH_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS).unref();
  }

  /** Records an event and resolves once it is stored (see AuditRecorder.commit). */
  commit(event: Omit<AuditEvent, "id" | "time">): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.push({ event: stamp(event), waiter: { resolve, reject } });
      this.soon ??= setImmediate(() => {
        this.soon = undefined;
        void this.flush();
      });
    });
  }

  /** Writes what is buffered. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, FLUSH_BATCH);
        try {
          await this.store.append(batch.map((p) => p.event));
        } catch (err) {
          this.logger.error({ err, pending: this.buffer.length }, "audit events could not be stored; will retry");
          // Nobody waits through an outage: callers hear now; their events stay buffered for the retry.
          for (const p of this.buffer) p.waiter?.reject(err);
          for (const p of this.buffer) p.waiter = undefined;
          this.timer ??= setTimeout(() => void this.flush(), RETRY_MS).unref();
          return;
        }
        this.buffer.splice(0, batch.length);
        for (const p of batch) p.waiter?.resolve();
      }
    });
    return this.flushing;
  }

  /** Events matching the filter, newest first, after flushing what is buffered. */
  async list(filter: AuditFilter): Promise<AuditEvent[]> {
    await this.flush();
    return this.store.list(filter);
  }

  private push(p: Pending): void {
    this.buffer.push(p);
    if (this.buffer.length <= MAX_BUFFERED) return;
    const dropped = this.buffer.splice(0, this.buffer.length - MAX_BUFFERED);
    for (const d of dropped) d.waiter?.reject(new Error("the audit buffer overflowed while the store was unavailable"));
  }
}

function stamp(event: Omit<AuditEvent, "id" | "time">): AuditEvent {
  const now = Date.now();
  return { ...event, id: newTimeOrderedId(now), time: new Date(now) };
}
