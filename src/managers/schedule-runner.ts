import type { Logger } from "pino";
import type { Leadership } from "../model/leadership.js";
import type { TaskStore } from "../model/task.js";
import { decideSchedule } from "../orchestrator/schedule.js";
import type { ServiceState } from "../state/service-state.js";
import type { TaskManager } from "./task-manager.js";

/** Schedule runner settings. */
export interface ScheduleRunnerOptions {
  /** How often schedules are looked at; 1 s serves six-field (per-second) schedules. */
  intervalMs: number;
  /** Schedules fire only while this replica leads (absent: always, one process and tests). */
  leadership?: Leadership;
  now?: () => Date;
}

/**
 * Fires scheduled services: each tick, the pure decision (decideSchedule)
 * for every service with a schedule says whether a time is due; a due time
 * runs as a task, or is recorded as skipped while the previous run still
 * runs. The last time fired is a task row (kept across restarts), so a time
 * missed while the server was down runs once, not once per missed time.
 * One per cluster: started where the reconciler is.
 */
export class ScheduleRunner {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly now: () => Date;
  /** The last time fired per service, read from the store once, then kept here. */
  private readonly lastFire = new Map<string, Date | undefined>();

  constructor(
    private readonly state: ServiceState,
    private readonly tasks: TaskManager,
    private readonly store: TaskStore,
    private readonly options: ScheduleRunnerOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? (() => new Date());
    // A new leader reads each schedule's last fire time from the store again: the old leader fired since.
    options.leadership?.onChange((leader) => {
      if (leader) this.lastFire.clear();
    });
  }

  /** Starts the ticks. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the ticks; resolves once a tick under way is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One look at every schedule (ticks never overlap). Exposed for tests. */
  tick(): Promise<void> {
    this.ticking ??= this.fireDue()
      .catch((err: unknown) => this.logger.error({ err }, "schedule tick failed"))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async fireDue(): Promise<void> {
    if (this.options.leadership && !this.options.leadership.isLeader()) return;
    for (const s of this.state.listServices()) {
      const spec = s.spec;
      if (!spec.schedule) continue;
      const name = spec.name;
      if (!this.lastFire.has(name)) {
        this.lastFire.set(name, await this.store.lastScheduled(name));
        await this.tasks.loadRecent(name, "schedule");
      }
      const decision = decideSchedule({
        schedule: spec.schedule,
        timeZone: spec.scheduleTimeZone ?? "",
        allowOverlap: spec.scheduleAllowOverlap ?? false,
        lastFireAt: this.lastFire.get(name),
        since: s.updatedAt,
        now: this.now(),
        running: this.tasks.active(name, "schedule"),
      });
      if (decision.action === "wait") continue;
      if (decision.missed > 0) this.logger.warn({ service: name, missed: decision.missed, at: decision.at }, "schedule times missed; the latest runs once");
      if (decision.action === "skip") {
        await this.tasks.skip(spec, decision.at, decision.reason);
        this.logger.info({ service: name, at: decision.at, reason: decision.reason }, "scheduled run skipped");
      } else {
        await this.tasks.run({ spec, kind: "schedule", scheduledAt: decision.at });
      }
      this.lastFire.set(name, decision.at);
    }
  }
}
