import { parseCron } from "../model/cron.js";

/** What the schedule decision sees of one scheduled service, at one instant. */
export interface ScheduleInput {
  schedule: string;
  /** IANA time zone; "" is UTC. */
  timeZone: string;
  allowOverlap: boolean;
  /** The last schedule time that fired (ran or was skipped), persisted across restarts. */
  lastFireAt: Date | undefined;
  /** When the schedule took effect (the service's last apply): the first time is after it. */
  since: Date;
  now: Date;
  /** The service's scheduled runs still pending or running. */
  running: number;
}

/** What to do now: nothing yet, run the due time, or record it as skipped. */
export type ScheduleDecision =
  | { action: "wait"; next: Date | undefined }
  | { action: "fire"; at: Date; missed: number; next: Date | undefined }
  | { action: "skip"; at: Date; missed: number; reason: string; next: Date | undefined };

/** How many missed times are counted (for the log); past it, "at least". */
const COUNT_LIMIT = 1000;

/**
 * The cron decision, pure: the latest schedule time at or before now that
 * comes after the last fire (or, for a new schedule, after `since`). Times
 * missed while the control plane was down are not run one by one: only the
 * latest runs, once, and `missed` says how many were passed over. A due time
 * while a previous run still runs is skipped, unless overlap is allowed
 * (Nomad's prohibit_overlap is the default).
 */
export function decideSchedule(input: ScheduleInput): ScheduleDecision {
  const cron = parseCron(input.schedule, input.timeZone);
  const from = input.lastFireAt && input.lastFireAt > input.since ? input.lastFireAt : input.since;
  const first = cron.nextRun(from);
  if (!first || first > input.now) return { action: "wait", next: first ?? undefined };
  // previousRuns is exclusive of its reference: a time exactly at now is due.
  const at = cron.previousRuns(1, new Date(input.now.getTime() + 1))[0] ?? first;
  const missed = countBetween(cron, first, at);
  const next = cron.nextRun(at) ?? undefined;
  if (input.running > 0 && !input.allowOverlap) {
    return { action: "skip", at, missed, reason: `the previous run is still running (set schedule_allow_overlap to run anyway)`, next };
  }
  return { action: "fire", at, missed, next };
}

/** The schedule's next time after `after`, for display. */
export function nextScheduleTime(schedule: string, timeZone: string, after: Date): Date | undefined {
  return parseCron(schedule, timeZone).nextRun(after) ?? undefined;
}

/** Times strictly between first and at (both due), counted up to COUNT_LIMIT. */
function countBetween(cron: ReturnType<typeof parseCron>, first: Date, at: Date): number {
  if (at.getTime() === first.getTime()) return 0;
  let n = 1;
  let t = cron.nextRun(first);
  while (t && t < at && n < COUNT_LIMIT) {
    n++;
    t = cron.nextRun(t);
  }
  return n;
}
