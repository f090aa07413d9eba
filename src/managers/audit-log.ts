import type { Logger } from "pino";
import type { AuditEvent, AuditFilter, AuditRecorder, AuditStore } from "../model/audit.js";
import { newTimeOrderedId } from "../model/ids.js";

const FLUSH_DELAY_MS = 100;
// Small batches: the store's query engine keeps the memory its largest batch needed, and
// 10,000 agents registering at once would otherwise leave tens of MiB behind.
const FLUSH_BATCH = 100;
// If the store is down for long, memory must stay bounded: the oldest unsaved events go first.
const MAX_BUFFERED = 50_000;

/**
 * The audit trail. Recording never waits on the store (the call it records
 * has already been answered, or is about to be): events are buffered and
 * written in batches within about 100 ms, and reads flush first, so a
 * caller always sees the events of calls it made. Shutdown flushes too.
 */
export class AuditLog implements AuditRecorder {
  private buffer: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
  ) {}

  /** Records an event; it reaches the store within about 100 ms. */
  record(event: Omit<AuditEvent, "id" | "time">): void {
    const now = Date.now();
    this.buffer.push({ ...event, id: newTimeOrderedId(now), time: new Date(now) });
    if (this.buffer.length > MAX_BUFFERED) this.buffer.splice(0, this.buffer.length - MAX_BUFFERED);
    if (this.buffer.length >= FLUSH_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS).unref();
  }

  /** Writes what is buffered. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, FLUSH_BATCH);
        try {
          await this.store.append(batch);
          this.buffer.splice(0, batch.length);
        } catch (err) {
          this.logger.error({ err, pending: this.buffer.length }, "audit events could not be stored; will retry");
          this.timer ??= setTimeout(() => void this.flush(), 1000).unref();
          return;
        }
      }
    });
    return this.flushing;
  }

  /** Events matching the filter, newest first, after flushing what is buffered. */
  async list(filter: AuditFilter): Promise<AuditEvent[]> {
    await this.flush();
    return this.store.list(filter);
  }
}
