import { Cron } from "croner";

/**
 * A service's schedule read by croner: five fields (minute precision, as
 * seed 003 and crontab write them) or six (seconds first). Day-of-month and
 * day-of-week combine with OR, as in Vixie cron. Throws on a bad expression
 * or time zone. No timer is started: nothing is passed to run.
 */
export function parseCron(expression: string, timeZone: string): Cron {
  const cron = new Cron(expression, { timezone: timeZone || "UTC", mode: "5-or-6-parts", paused: true });
  // croner checks the time zone only when it computes a date: check now.
  cron.nextRun(new Date(0));
  return cron;
}

/** Why a schedule or its time zone is refused, per field; empty when both are good. */
export function cronProblems(expression: string, timeZone: string): Array<{ field: "schedule" | "scheduleTimeZone"; message: string }> {
  if (timeZone) {
    try {
      new Intl.DateTimeFormat("en", { timeZone });
    } catch {
      return [{ field: "scheduleTimeZone", message: `"${timeZone}" is not an IANA time zone (e.g. "Europe/Paris"; empty for UTC)` }];
    }
  }
  try {
    parseCron(expression, timeZone);
    return [];
  } catch (err) {
    return [{ field: "schedule", message: `is not a cron expression: ${(err as Error).message}` }];
  }
}
